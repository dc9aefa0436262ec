// The original library's example client, unchanged in how it connects:
//   io(url + '/snapshots', { auth: { accessToken }, reconnection: true })
// Prints every `snapshots_events` message as one JSON line and exits after
// the first `snapshots_completed` or `snapshots_failed` (or a connect error).
const { io } = require("socket.io-client");

const [url, accessToken] = process.argv.slice(2);
const socket = io(url + "/snapshots", { auth: { accessToken }, reconnection: true });

socket.on("connect", () => console.log(JSON.stringify({ connected: true })));
socket.on("connect_error", (err) => {
  console.log(JSON.stringify({ connect_error: err.message }));
  process.exit(2);
});
socket.on("snapshots_events", (event) => {
  console.log(JSON.stringify(event));
  if (event.type === "snapshots_completed" || event.type === "snapshots_failed") {
    socket.close();
    process.exit(0);
  }
});
setTimeout(() => {
  console.log(JSON.stringify({ timeout: true }));
  process.exit(3);
}, 120000);
