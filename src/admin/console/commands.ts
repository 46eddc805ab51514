/**
 * A fix as relay365 writes it is prose with Exchange Online PowerShell lines in it
 * ("Give relay@ Send As on bob@: Add-RecipientPermission -Identity … (FullAccess is not
 * enough)"). The console shows each command alone in a block an admin can copy, and the
 * words around it as words.
 */
const CMDLET = /\b(?:Add|Set|New|Get|Test|Remove|Grant|Connect|Enable|Disable|Update|Install|Import)-[A-Z][A-Za-z]+\b/g;

export type FixPart = { text: string } | { command: string };

/** The command that starts at `start` (a cmdlet's name): its parameters and values, and pipes into more cmdlets. */
function commandAt(text: string, start: number): string {
  const head = /^[A-Za-z]+-[A-Za-z]+/.exec(text.slice(start))![0];
  let end = start + head.length;
  let expectValue = false;
  let positional = /^(?:Format|Select|Where)-/.test(head); // Format-List AppId,ObjectId
  for (;;) {
    const rest = text.slice(end);
    const param = /^ -[A-Za-z][A-Za-z0-9]*(?::\S*[^\s.,;)])?/.exec(rest);
    if (param) {
      end += param[0].length;
      expectValue = !param[0].includes(':');
      positional = false;
      continue;
    }
    const pipe = /^ \| (?=[A-Za-z]+-[A-Za-z]+)/.exec(rest);
    if (pipe) {
      end += pipe[0].length;
      const next = /^[A-Za-z]+-[A-Za-z]+/.exec(text.slice(end))![0];
      end += next.length;
      expectValue = false;
      positional = /^(?:Format|Select|Where)-/.test(next);
      continue;
    }
    if (expectValue || positional) {
      const value = /^ (?:"[^"]*"|'[^']*'|<[^>]*>|[^\s"'<(—;]+)/.exec(rest);
      if (value) {
        // A value's trailing full stop or comma belongs to the sentence around the command.
        const kept = value[0].replace(/[.,;:)]+$/, '');
        end += kept.length;
        expectValue = false;
        positional = false;
        if (kept.length < value[0].length) break;
        continue;
      }
    }
    break;
  }
  return text.slice(start, end);
}

export function fixParts(fix: string): FixPart[] {
  const parts: FixPart[] = [];
  let at = 0;
  CMDLET.lastIndex = 0;
  for (let m = CMDLET.exec(fix); m; m = CMDLET.exec(fix)) {
    // "Set-TransportConfig -Smtp… does not help": a cmdlet named without parameters is prose.
    const command = commandAt(fix, m.index);
    if (!/ -[A-Za-z]| \| /.test(command)) continue;
    if (m.index > at) parts.push({ text: fix.slice(at, m.index) });
    parts.push({ command });
    at = m.index + command.length;
    CMDLET.lastIndex = at;
  }
  if (at < fix.length) parts.push({ text: fix.slice(at) });
  return parts;
}
