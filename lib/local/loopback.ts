/** A dotted-quad IPv4 address, each octet 0–255 without leading zeros (what `net.isIP` accepts as IPv4). */
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * Is `host` (a name or an address, IPv6 with or without brackets) a loopback one?
 * Pure string work, no `node:net`: the webhook URL checks share it, and they run in the browser console's bundle too.
 */
export function isLoopbackHost(host: string): boolean {
  const name = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (IPV4.test(name)) return name.startsWith('127.');
  return name === '::1' || name === '::ffff:127.0.0.1';
}
