// Installable and offline: register the service worker (sw.js) where the browser allows one (http(s), not file://).
// The page's root element gets data-offline = "ready" once every file of the site is cached.
export async function registerOffline(root, url = "sw.js") {
  if (typeof navigator === "undefined" || !("serviceWorker" in navigator) || !/^https?:$/.test(location.protocol)) {
    root.dataset.offline = "unsupported";
    return null;
  }
  try {
    const reg = await navigator.serviceWorker.register(url);
    await navigator.serviceWorker.ready;
    root.dataset.offline = "ready";
    return reg;
  } catch (e) {
    root.dataset.offline = "failed: " + (e && e.message || e);
    console.warn("hasy_nb pad: no offline copy:", e);
    return null;
  }
}
