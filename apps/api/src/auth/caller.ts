/**
 * Who is calling, as the auth guard established it. A user is known by `owner` (what is stored beside the devices they register): for a key from
 * EDGENAS_API_KEYS a digest of it, for a stored key the owner of the key that created it. `keyId` names the key
 * used (`env-<n>` for the n-th EDGENAS_API_KEYS entry).
 */
export type Caller =
  | { readonly kind: 'user'; readonly owner: string; readonly keyId: string }
  | { readonly kind: 'device'; readonly deviceId: string };
