export { type AddressPolicyOptions, ALLOW_LIST_SETTING, createAddressPolicy } from "./address-policy.js";
export { createHttpClient, type HttpClient, type HttpClientOptions } from "./http-client.js";
export { decodeText, dispositionFilename, isFileResponse } from "./response-kind.js";
