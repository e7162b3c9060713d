// The pad's service worker: on install it caches every file of the site (the list `hasy-nb pad` wrote into
// hasy-nb-manifest.json, and the page itself), so the pad works offline from the first visit. Every request goes to
// the network first (a new export is seen at once) and the cache answers when the network does not.
const CACHE = "hasy-nb-pad";
const MANIFEST = "hasy-nb-manifest.json";

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const listed = await fetch(MANIFEST, { cache: "no-cache" }).then((r) => {
      if (!r.ok) throw new Error(`sw.js: cannot read ${MANIFEST} (${r.status})`);
      return r.json();
    });
    const cache = await caches.open(CACHE);
    await cache.addAll(["./", MANIFEST, ...listed.files]);
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => { event.waitUntil(self.clients.claim()); });

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET" || new URL(req.url).origin !== self.location.origin) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const res = await fetch(req);
      if (res.ok && res.type === "basic") cache.put(req, res.clone());
      return res;
    } catch (e) {
      const hit = await cache.match(req, { ignoreSearch: true });
      if (hit) return hit;
      throw e;
    }
  })());
});
