// The live feed (/api/ws): onEvent(message) for every pushed event; reconnects with backoff,
// resuming from the last sequence number it saw (the server replays what was missed, or says
// "resync", and then onResync() reloads the page's state). onState(connected) shows the link.
export function liveEvents(onEvent, onResync, onState = () => {}) {
  let last = null;
  let delay = 500;
  function open() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const since = last === null ? "" : "?since=" + last;
    const socket = new WebSocket(`${scheme}//${location.host}/api/ws${since}`);
    socket.addEventListener("message", (message) => {
      const data = JSON.parse(message.data);
      if (data.type === "hello") {
        delay = 500;
        onState(true);
        if (last === null) last = data.seq;
        return;
      }
      if (data.type === "resync") {
        last = data.seq;
        onResync();
        return;
      }
      if (typeof data.seq === "number") {
        last = data.seq;
        onEvent(data);
      }
    });
    socket.addEventListener("close", () => {
      onState(false);
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 15000);
    });
  }
  open();
}
