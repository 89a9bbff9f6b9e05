package org.distillery.spark.jobs;

import java.util.List;

import org.distillery.spark.input.Inputs;

/**
 * What every job reads and writes.
 *
 * @param in input paths, folders or globs (local or Hadoop URIs)
 * @param inFormat the input format
 * @param splitBytes bytes per JSONL input partition
 * @param out the output path
 * @param overwrite replace an existing output
 * @param partitions partitions of the teacher work, or 0 for Spark's default parallelism
 * @param progressSeconds seconds between progress lines, 0 for none
 */
public record JobIo(List<String> in, Inputs.Format inFormat, long splitBytes, String out, boolean overwrite,
                    int partitions, long progressSeconds) {
}
