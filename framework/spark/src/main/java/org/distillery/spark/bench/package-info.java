/** {@code distill bench spark}: measured throughput of the cache job against the single-process path. */
package org.distillery.spark.bench;
