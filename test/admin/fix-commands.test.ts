/** The console's fix blocks: each PowerShell command of a fix alone, the words around it kept as words. */
import { describe, expect, it } from 'vitest';
import { fixParts } from '../../src/admin/console/commands.js';

const commands = (fix: string) => fixParts(fix).flatMap((p) => ('command' in p ? [p.command] : []));

describe('a fix taken apart into words and commands', () => {
  it('ends a command where the sentence goes on, and keeps every word', () => {
    const fix = 'Give relay@contoso.example Send As on bob@contoso.example: Add-RecipientPermission -Identity bob@contoso.example -Trustee relay@contoso.example -AccessRights SendAs -Confirm:$false (FullAccess is not enough), and list it.';
    expect(commands(fix)).toEqual(['Add-RecipientPermission -Identity bob@contoso.example -Trustee relay@contoso.example -AccessRights SendAs -Confirm:$false']);
    expect(fixParts(fix).map((p) => ('command' in p ? p.command : p.text)).join('')).toBe(fix);
  });

  it('gives each of several commands its own block, quoted values, placeholders and pipes included', () => {
    const fix = 'New-ServicePrincipal -AppId 1234 -ObjectId abcd — the object id; Get-ServicePrincipal | Format-List AppId,ObjectId shows it. Add-MailboxPermission -Identity m@x -User abcd -AccessRights FullAccess (or New-ManagementRoleAssignment -Role "Application SMTP.SendAsApp" -App 1234 -CustomResourceScope <a scope containing m@x>).';
    expect(commands(fix)).toEqual([
      'New-ServicePrincipal -AppId 1234 -ObjectId abcd',
      'Get-ServicePrincipal | Format-List AppId,ObjectId',
      'Add-MailboxPermission -Identity m@x -User abcd -AccessRights FullAccess',
      'New-ManagementRoleAssignment -Role "Application SMTP.SendAsApp" -App 1234 -CustomResourceScope <a scope containing m@x>',
    ]);
  });

  it('leaves a fix without commands as words', () => {
    expect(fixParts('Check routes.m365.password: it must be current.')).toEqual([{ text: 'Check routes.m365.password: it must be current.' }]);
  });
});
