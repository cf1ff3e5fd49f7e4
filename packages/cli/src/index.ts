export { buildProgram, isServing, main } from "./main.js";
