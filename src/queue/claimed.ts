/** A message just accepted, in the shape a claim returns, for delivery without a round trip to the store. */
import { State } from './states.js';
import type { ClaimedMessage, NewMessage } from './store.js';

export function claimedFromNew(message: NewMessage, size: number): ClaimedMessage {
  return {
    id: message.id,
    receivedAt: message.receivedAt,
    expiresAt: message.expiresAt,
    mailFrom: message.mailFrom,
    mailParams: message.mailParams,
    app: message.app,
    size,
    receivedHeader: message.receivedHeader,
    attemptCount: 0,
    recovered: false,
    recipients: message.recipients.map((r, idx) => ({ idx, address: r.address, params: r.params, state: State.queued })),
    otherRecipientStates: [],
  };
}
