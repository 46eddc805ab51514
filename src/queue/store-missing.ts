/** The store a command wanted to read does not exist (yet): relay365 never ran with this config. */
export class StoreMissing extends Error {
  readonly code = 'STORE_MISSING';
}
