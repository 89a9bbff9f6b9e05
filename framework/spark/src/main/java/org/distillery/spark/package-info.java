/**
 * Distillery on Apache Spark: the teacher side of distillation (generation, top-k caching,
 * quality scoring) as Spark jobs, in a JVM of their own, never in the OSGi kernel.
 */
package org.distillery.spark;
