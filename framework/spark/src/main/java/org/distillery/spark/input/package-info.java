/**
 * Job input: JSONL (parallel byte ranges with exact line numbers) and Parquet on any Hadoop file
 * system, parsed by the project's own JSONL parser and checked before any teacher work.
 */
package org.distillery.spark.input;
