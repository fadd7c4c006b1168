/**
 * Waits for `work` to settle, but no longer than `ms`. Resolves true when it settled
 * in time; a rejection counts as settled and goes to `onError`.
 */
export async function settledWithin(work: Promise<unknown>, ms: number, onError: (err: unknown) => void): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = work.then(() => true, (err: unknown) => {
    onError(err);
    return true;
  });
  const inTime = await Promise.race([settled, deadline]);
  clearTimeout(timer);
  return inTime;
}
