/**
 * Which account a registrations row belongs to. SEMS's sipwise variant keeps
 * subscribers and peerings in the same registrations table and tells them apart
 * by the key column: `subscriber_id` or `peer_host_id`.
 */
export type AccountType = 'subscriber' | 'peering';

export interface AccountKey {
  type: AccountType;
  id: number;
}

export function keyColumnOf(type: AccountType): 'subscriber_id' | 'peer_host_id' {
  return type === 'peering' ? 'peer_host_id' : 'subscriber_id';
}

/** A stable map key, e.g. for per-account queues. */
export function accountKeyString(key: AccountKey): string {
  return `${key.type}:${key.id}`;
}
