/** Helpers that start Spark JVMs: Spark's own module options for Java 17. */
package org.distillery.spark.launch;
