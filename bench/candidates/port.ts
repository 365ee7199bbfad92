/** The port the harness assigned; candidates listen on 127.0.0.1 only. */
export function benchPort(): number {
  const port = Number(process.env.PORT);
  if (!Number.isInteger(port) || port <= 0) throw new Error('PORT must be set by the bench harness');
  return port;
}
