/**
 * @peculiar/x509, loaded after the Reflect polyfill its dependency injection (tsyringe) needs;
 * import x509 from here, never directly, or loading fails depending on import order.
 */
import "reflect-metadata";

export * from "@peculiar/x509";
