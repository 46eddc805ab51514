// What every Graph route is handed: the sandbox, Graph's settings, and Graph's own state.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { SandboxContext } from '../context.js';
import { findMailbox } from '../tenant/accessors.js';
import { DraftStore } from './drafts.js';
import type { Recipient } from './message.js';
import { graphSettings, type GraphSettings } from './settings.js';
import { GraphThrottle } from './throttle.js';
import { UploadSessionStore } from './upload-sessions.js';

export interface GraphContext {
  readonly sandbox: SandboxContext;
  readonly settings: GraphSettings;
  readonly throttle: GraphThrottle;
  readonly drafts: DraftStore;
  readonly uploads: UploadSessionStore;
  /** Where composed messages wait while their size is checked. */
  readonly spoolDir: string;
}

/** Opens Graph's state under `<data>/graph`. */
export async function openGraphContext(sandbox: SandboxContext): Promise<GraphContext> {
  const settings = graphSettings(sandbox.options.graph);
  const dir = join(sandbox.options.dataDir, 'graph');
  const spoolDir = join(dir, 'spool');
  await rm(spoolDir, { recursive: true, force: true });
  await mkdir(spoolDir, { recursive: true });
  const drafts = await DraftStore.open(dir, { mail: sandbox.mailboxes, now: () => sandbox.clock.date(), senderOf: (mailbox) => senderOf(sandbox, mailbox) });
  const uploads = await UploadSessionStore.open(join(dir, 'uploads'));
  return { sandbox, settings, throttle: new GraphThrottle(() => settings, sandbox.clock), drafts, uploads, spoolDir };
}

/** A mailbox as the From of the messages it sends itself: its address and display name. */
export function senderOf(sandbox: SandboxContext, mailbox: string): Recipient {
  const found = findMailbox(sandbox.tenant.current, mailbox);
  return { address: found?.address ?? mailbox, ...(found?.displayName ? { name: found.displayName } : {}) };
}
