/** `Authorization: Bearer <token>` parsing with Dify's messages, shared by app keys and the admin token. */
import { unauthorized } from "./errors.js";

/** The token of a Bearer Authorization header, or throws the 401 Dify answers for it. */
export function bearerToken(header: string | undefined, hint: string): string {
  if (header === undefined || !header.trim().includes(" ")) {
    throw unauthorized(`Authorization header must be provided and start with 'Bearer'. Send Authorization: Bearer <${hint}>.`);
  }
  const [scheme, ...rest] = header.trim().split(/\s+/);
  if ((scheme ?? "").toLowerCase() !== "bearer") {
    throw unauthorized(`Authorization scheme must be 'Bearer'. Send Authorization: Bearer <${hint}>.`);
  }
  return rest.join(" ");
}
