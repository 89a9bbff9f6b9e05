/**
 * The jobs ({@code generate}, {@code cache}, {@code score}, {@code filter}), their atomic output,
 * their own progress on stderr and a fault hook for retry tests.
 */
package org.distillery.spark.jobs;
