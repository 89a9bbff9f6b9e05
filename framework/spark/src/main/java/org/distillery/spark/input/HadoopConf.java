package org.distillery.spark.input;

import java.io.Serializable;
import java.util.HashMap;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;

/**
 * The driver's Hadoop configuration carried into tasks (file system settings such as
 * {@code fs.s3a.*} given as {@code spark.hadoop.*}), so executors open paths as the driver does.
 */
public final class HadoopConf implements Serializable {

    private static final long serialVersionUID = 1L;

    private final HashMap<String, String> entries;

    private HadoopConf(HashMap<String, String> entries) {
        this.entries = entries;
    }

    /** A copy of {@code conf}. */
    public static HadoopConf of(Configuration conf) {
        HashMap<String, String> m = new HashMap<>();
        for (Map.Entry<String, String> e : conf) {
            m.put(e.getKey(), e.getValue());
        }
        return new HadoopConf(m);
    }

    /** A configuration with the copied entries. */
    public Configuration get() {
        Configuration c = new Configuration(false);
        entries.forEach(c::set);
        return c;
    }
}
