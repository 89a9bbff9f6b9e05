package org.distillery.spark.jobs;

import org.apache.spark.Partitioner;
import org.apache.spark.api.java.JavaRDD;

import scala.Tuple2;

import org.distillery.spark.input.SourceLine;

/**
 * Spreads records over partitions as contiguous runs of the input order, each partition sorted, so
 * partition i's output precedes partition i+1's and the joined output is in input order.
 */
final class Partitioning {

    private Partitioning() {
    }

    /** Contiguous ranges of {@code order} over {@code parts} partitions. */
    static final class Ranges extends Partitioner {
        private static final long serialVersionUID = 1L;
        private final int parts;
        private final long total;

        Ranges(int parts, long total) {
            this.parts = parts;
            this.total = Math.max(1, total);
        }

        @Override
        public int numPartitions() {
            return parts;
        }

        @Override
        public int getPartition(Object key) {
            long k = (Long) key;
            return (int) Math.min(parts - 1, k * parts / total);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Ranges r && r.parts == parts && r.total == total;
        }

        @Override
        public int hashCode() {
            return Long.hashCode(total) * 31 + parts;
        }
    }

    /** The records in {@code parts} partitions of contiguous input order, each sorted. */
    static JavaRDD<SourceLine> inOrder(JavaRDD<SourceLine> lines, long total, int parts) {
        return lines.mapToPair(l -> new Tuple2<>(l.order(), l))
                .repartitionAndSortWithinPartitions(new Ranges(parts, total))
                .values();
    }
}
