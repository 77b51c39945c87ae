// Requests Node's HTTP parser refuses before any route is chosen (a request line and headers too
// large, a request that took too long to arrive, bytes that are not HTTP): Fastify's
// clientErrorHandler, answering in the API's error shape like every other refusal.
import http from "node:http";
import type { Socket } from "node:net";
import type { FastifyBaseLogger } from "fastify";
import { errorBody } from "./errors.js";

function refusal(code: string | undefined): [number, string] {
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") return [408, "the request did not arrive in time"];
  if (code === "HPE_HEADER_OVERFLOW") return [431, "the request line and headers are larger than the server accepts"];
  return [400, "not a well-formed HTTP request"];
}

export function clientErrorHandler(this: { log: FastifyBaseLogger }, err: NodeJS.ErrnoException, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const [status, message] = refusal(err.code);
  this.log.trace({ err }, "client error");
  if (socket.writable) {
    const body = JSON.stringify(errorBody(status, message, status === 400 ? "bad_request" : undefined));
    const head = [
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}`,
      `Content-Length: ${Buffer.byteLength(body)}`,
      "Content-Type: application/json",
      "Connection: close",
    ];
    socket.write(`${head.join("\r\n")}\r\n\r\n${body}`);
  }
  socket.destroy(err);
}
