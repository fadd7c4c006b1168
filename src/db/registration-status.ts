/** Values of the `registration_status` column (README / SPEC §3). */
export enum RegistrationStatus {
  Inactive = 0,
  Pending = 1,
  Active = 2,
  Failed = 3,
  Removed = 4,
  ToBeRemoved = 5,
}
