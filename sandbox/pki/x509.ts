// @peculiar/x509, loaded after the Reflect polyfill it needs and wired to Node's WebCrypto.
// Import x509 from here, never from the package directly, so the order is always right.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
export const subtle = webcrypto.subtle;
