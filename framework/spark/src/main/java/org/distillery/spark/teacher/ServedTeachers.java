package org.distillery.spark.teacher;

import java.io.IOException;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import org.distillery.serve.OpenAiServer;
import org.distillery.serve.ServeOptions;

/**
 * A local teacher served on an OpenAI-compatible endpoint inside the executor JVM, bound to
 * 127.0.0.1 on a free port, for code that talks to a teacher only through an endpoint (the data
 * bundle's quality filter): the same server as {@code distill serve}, over the executor's one copy
 * of the model ({@link ExecutorTeachers}). Each server answers one request at a time (no batching),
 * so a score does not depend on which requests happened to share a batch; each task thread gets
 * its own server, so the executor's task slots still work in parallel.
 */
public final class ServedTeachers {

    private static final Map<String, OpenAiServer> SERVERS = new HashMap<>();

    private ServedTeachers() {
    }

    /**
     * The base URL of the teacher's endpoint in this JVM, started on first use.
     *
     * @param dir the model folder
     * @param weightsSha256 the weights hash the driver computed
     * @param device the device
     * @param modelName the model id the endpoint answers to
     */
    public static synchronized String baseUrl(String dir, String weightsSha256, String device, String modelName)
            throws IOException {
        String key = dir + "\n" + weightsSha256 + "\n" + modelName + "\n" + Thread.currentThread().getId();
        OpenAiServer s = SERVERS.get(key);
        if (s == null) {
            ExecutorTeachers.Loaded t = ExecutorTeachers.teacher(dir, weightsSha256, device);
            s = OpenAiServer.start(t.model(), t.tokenizer(), t.manager(), ServeOptions.defaults(modelName)
                    .withBatching(Duration.ZERO, 1));
            SERVERS.put(key, s);
        }
        return s.baseUrl();
    }
}
