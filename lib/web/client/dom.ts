// Small DOM helpers shared by the client modules.

/** Served over http(s): fetch and server-sent events work; under file:// the browser refuses them. */
export const HTTP = /^https?:$/.test(location.protocol);

/** The element with this id when it is of the expected kind, else null. */
export function byId<T extends HTMLElement>(id: string, kind: new () => T): T | null {
  const el = document.getElementById(id);
  return el instanceof kind ? el : null;
}
