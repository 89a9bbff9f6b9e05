package org.distillery.spark;

import java.util.Map;

import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

/**
 * The Spark session of a job. Under {@code spark-submit} the master and settings come from it.
 * Started otherwise (by {@code distill spark}, or a test), it is the embedded default: local mode
 * ({@code local[*]} unless told), no web UI, driver bound to 127.0.0.1. Spark's console progress
 * bar is always off: the jobs print their own progress.
 */
public final class Sessions {

    private Sessions() {
    }

    /**
     * Starts (or joins) the session.
     *
     * @param master {@code local[N]}, a cluster URL, or {@code null} for spark-submit's or {@code local[*]}
     * @param settings extra Spark settings
     * @param appName the application's name
     */
    public static SparkSession start(String master, Map<String, String> settings, String appName) {
        SparkConf conf = new SparkConf(true);
        boolean submitted = conf.contains("spark.master");
        if (master != null) {
            conf.setMaster(master);
        } else if (!submitted) {
            conf.setMaster("local[*]");
        }
        if (!submitted) {
            conf.setIfMissing("spark.ui.enabled", "false");
            conf.setIfMissing("spark.driver.host", "127.0.0.1");
            conf.setIfMissing("spark.driver.bindAddress", "127.0.0.1");
            conf.setIfMissing("spark.executor.heartbeatInterval", "2s");
        }
        conf.set("spark.ui.showConsoleProgress", "false");
        conf.setIfMissing("spark.app.name", appName);
        settings.forEach(conf::set);
        return SparkSession.builder().config(conf).getOrCreate();
    }
}
