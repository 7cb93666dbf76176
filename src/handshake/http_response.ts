// Where `encodeResponse` lived before the handshake was split by concept. Import from "./mod.ts"
// instead; this file goes once nothing imports it.
export { encodeResponse } from "./response.ts";
