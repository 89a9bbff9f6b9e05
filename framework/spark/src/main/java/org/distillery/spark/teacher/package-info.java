/**
 * The teacher inside executors: one local model per executor JVM, or an OpenAI-compatible
 * endpoint through the project's client; and the order-independent per-sample seeds.
 */
package org.distillery.spark.teacher;
