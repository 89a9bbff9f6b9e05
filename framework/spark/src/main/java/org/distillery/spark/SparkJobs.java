package org.distillery.spark;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import org.apache.spark.sql.SparkSession;

import org.distillery.api.InvalidConfigException;
import org.distillery.spark.bench.CacheBench;
import org.distillery.spark.input.Inputs;
import org.distillery.spark.jobs.CacheJob;
import org.distillery.spark.jobs.GenerateJob;
import org.distillery.spark.jobs.JobIo;
import org.distillery.spark.jobs.QualityJob;
import org.distillery.spark.jobs.Reports;
import org.distillery.spark.teacher.EndpointTeacher;
import org.distillery.teachers.cache.ValueType;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The Spark jobs' entry point: {@code distill spark <job>} runs it in a child JVM (local mode),
 * {@code spark-submit --class org.distillery.spark.SparkJobs distillery-spark-job.jar <job>} on a
 * cluster. Exit codes: 0 done, 1 failed, 2 invalid input (options, records, files).
 */
@Command(name = "distill spark", mixinStandardHelpOptions = true,
        description = "The teacher side of distillation as Apache Spark jobs: generate, cache, score, filter.",
        subcommands = {SparkJobs.Generate.class, SparkJobs.Cache.class, SparkJobs.Score.class, SparkJobs.Filter.class,
            CacheBench.class, CommandLine.HelpCommand.class},
        footer = {"", "Exit codes: 0 ok, 1 failed, 2 invalid input (options, records, files)."})
public final class SparkJobs implements Callable<Integer> {

    /** Exit code: done. */
    public static final int OK = 0;
    /** Exit code: failed at run time. */
    public static final int FAILED = 1;
    /** Exit code: invalid input. */
    public static final int INVALID = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** Runs a job and exits with its code. */
    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs a job and returns its exit code. */
    public static int execute(String... args) {
        CommandLine cl = new CommandLine(new SparkJobs());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            PrintWriter err = cmd.getErr();
            InvalidInputException bad = InvalidInputException.find(ex);
            if (bad != null) {
                err.println("error: " + bad.getMessage());
                err.flush();
                return INVALID;
            }
            for (Throwable c = ex; c != null; c = c.getCause()) {
                if (c instanceof InvalidConfigException ice) {
                    err.println("error: " + ice.getMessage());
                    err.flush();
                    return INVALID;
                }
            }
            err.println("failed: " + rootMessage(ex));
            if (Boolean.getBoolean("distill.trace")) {
                ex.printStackTrace(err);
            }
            err.flush();
            return FAILED;
        });
        cl.setParameterExceptionHandler((ex, a) -> {
            ex.getCommandLine().getErr().println("error: " + ex.getMessage());
            ex.getCommandLine().usage(ex.getCommandLine().getErr());
            return INVALID;
        });
        return cl.execute(args);
    }

    private static String rootMessage(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String m = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
        return root == t ? m : m + " (" + t.getClass().getSimpleName() + ")";
    }

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return OK;
    }

    /** Options every job has. */
    public static final class Common {
        @Option(names = "--in", required = true, split = ",", paramLabel = "<path>",
                description = "input: JSONL or Parquet files, folders or globs; local paths or Hadoop URIs (hdfs:, s3a:, ...)")
        List<String> in = new ArrayList<>();

        @Option(names = "--in-format", description = "auto (default: .parquet names are Parquet), jsonl or parquet")
        String inFormat = "auto";

        @Option(names = "--split-mb", description = "MB per JSONL input partition (default 64)")
        long splitMb = 64;

        @Option(names = "--out", required = true, paramLabel = "<path>",
                description = "output file (written to a temporary path, then renamed)")
        String out;

        @Option(names = "--overwrite", description = "replace an existing output")
        boolean overwrite;

        @Option(names = "--master", description = "Spark master (default: spark-submit's, else local[*])")
        String master;

        @Option(names = "--partitions", description = "partitions of the teacher work (default: Spark's default parallelism)")
        int partitions;

        @Option(names = "--progress-every", description = "seconds between progress lines on stderr (default 10, 0 = none)")
        long progressEvery = 10;

        @Option(names = "--conf", paramLabel = "key=value", description = "a Spark setting (repeatable)")
        List<String> conf = new ArrayList<>();

        JobIo io() {
            if (splitMb < 1) {
                throw new InvalidInputException("--split-mb: must be at least 1 (got " + splitMb + ")");
            }
            if (partitions < 0) {
                throw new InvalidInputException("--partitions: must be >= 1 (got " + partitions + ")");
            }
            return new JobIo(in, Inputs.format(inFormat), splitMb << 20, out, overwrite, partitions, progressEvery);
        }

        SparkSession session(String job) {
            Map<String, String> settings = new LinkedHashMap<>();
            for (String c : conf) {
                int eq = c.indexOf('=');
                if (eq <= 0) {
                    throw new InvalidInputException("--conf: expected key=value (got \"" + c + "\")");
                }
                settings.put(c.substring(0, eq).trim(), c.substring(eq + 1).trim());
            }
            return Sessions.start(master, settings, "distill spark " + job);
        }
    }

    /** Options of an OpenAI-compatible endpoint. */
    public static final class Endpoint {
        @Option(names = "--endpoint", paramLabel = "<url>", description = "OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1")
        String url;

        @Option(names = "--model", description = "the endpoint's model id (default teacher)")
        String model = "teacher";

        @Option(names = "--api", description = "completion (the project's prompt text; default) or chat")
        String api = "completion";

        @Option(names = "--api-key-env", description = "environment variable holding the API key on every executor")
        String apiKeyEnv = "";

        @Option(names = "--concurrency", description = "requests in flight per executor JVM (default 4)")
        int concurrency = 4;

        @Option(names = "--max-retries", description = "retries per request on 429, 5xx, timeouts (default 5)")
        int maxRetries = 5;

        @Option(names = "--timeout", description = "seconds per attempt (default 120)")
        long timeout = 120;

        @Option(names = "--cache-dir", description = "response cache folder on each executor (default none)")
        String cacheDir = "";

        EndpointTeacher.Settings settings() {
            return url == null ? null : new EndpointTeacher.Settings(url, model, apiKeyEnv, api, concurrency, maxRetries,
                    timeout, cacheDir);
        }
    }

    /** {@code generate}. */
    @Command(name = "generate", mixinStandardHelpOptions = true,
            description = "Teacher responses for the prompts of a dataset ({prompt, response} or {messages} records): "
                + "a local teacher in every executor, or executors calling an OpenAI-compatible endpoint.")
    static final class Generate implements Callable<Integer> {
        @Mixin
        Common common;

        @Mixin
        Endpoint endpoint;

        @Option(names = "--teacher", paramLabel = "<model-dir>", description = "local teacher (the same path on every node)")
        String teacher;

        @Option(names = "--samples", description = "responses per record (default 1)")
        int samples = 1;

        @Option(names = "--max-new-tokens", description = "tokens per response at most (default 128)")
        int maxNewTokens = 128;

        @Option(names = "--temperature", description = "0 = greedy (default)")
        float temperature;

        @Option(names = "--top-k", description = "0 = off (default)")
        int topK;

        @Option(names = "--top-p", description = "1 = off (default)")
        float topP = 1f;

        @Option(names = "--seed", description = "the job's seed; a sample's seed is a hash of it, the record id and the sample index (default 1)")
        long seed = 1;

        @Option(names = "--device", description = "executors' device for a local teacher: cpu (default), auto, gpu:N")
        String device = "cpu";

        @Override
        public Integer call() throws Exception {
            JobIo io = common.io();
            GenerateJob.Options o = new GenerateJob.Options(teacher, endpoint.settings(), device, samples, maxNewTokens,
                    temperature, topK, topP, seed);
            try (SparkSession spark = common.session("generate")) {
                Reports.print(GenerateJob.run(spark, io, o, System.err), io.out(), System.out);
            }
            return OK;
        }
    }

    /** {@code cache}. */
    @Command(name = "cache", mixinStandardHelpOptions = true,
            description = {"The teacher's top-k log-probabilities at every position of a dataset: the exact file "
                + "`distill teacher cache` writes and teacher.cached reads.",
                "Executors write Parquet part files; the driver assembles the file (header, index, checksums)."})
    static final class Cache implements Callable<Integer> {
        @Mixin
        Common common;

        @Option(names = "--teacher", required = true, paramLabel = "<model-dir>",
                description = "the teacher's model folder (the same path on every node)")
        String teacher;

        @Option(names = "--tokenizer-dir", description = "tokenizer folder (default: the teacher's)")
        String tokenizerDir;

        @Option(names = "--k", description = "top entries kept per position (default 32)")
        int k = 32;

        @Option(names = "--max-length", description = "tokens per sequence, as the trainer's train.max-length (default 128)")
        int maxLength = 128;

        @Option(names = "--batch-size", description = "sequences per teacher forward (default 8)")
        int batchSize = 8;

        @Option(names = "--dtype", description = "how log-probabilities are stored: auto (default: q8 for a teacher vocabulary "
                + "of at most 1536 ids, else q4), q8, q4 (format 2), fp16 or fp32 (format 1); as distill teacher cache")
        String dtype = "auto";

        @Option(names = "--device", description = "executors' device: cpu (default), auto, gpu:N")
        String device = "cpu";

        @Override
        public Integer call() throws Exception {
            JobIo io = common.io();
            if (!ValueType.valid(dtype)) {
                throw new InvalidInputException("--dtype: unknown value type (got \"" + dtype
                        + "\"; accepted: auto, q8, q4, fp16, fp32)");
            }
            // auto is resolved once the job has read the teacher's vocabulary
            ValueType vt = dtype.trim().equalsIgnoreCase("auto") ? null : ValueType.parse(dtype);
            CacheJob.Options o = new CacheJob.Options(teacher, tokenizerDir, k, maxLength, batchSize, vt, device);
            try (SparkSession spark = common.session("cache")) {
                Reports.print(CacheJob.run(spark, io, o, System.err), System.out);
            }
            return OK;
        }
    }

    /** Options of the quality jobs. */
    public static final class Quality {
        @Option(names = "--scorer", description = "judge (1-10 score from the endpoint; default) or logprob (mean log-probability of the response)")
        String scorer;

        @Option(names = "--min-score", description = "filter: keep records scoring at least this (default: the bundle's, 7.0)")
        Double minScore;

        @Option(names = "--keep-unscored", description = "filter: keep records whose score could not be read")
        boolean keepUnscored;

        @Option(names = "--params", paramLabel = "HOCON",
                description = "more data.quality-filter parameters, e.g. 'judge-template = \"...\"'")
        String params = "";

        @Option(names = "--seed", description = "the job's seed (default 1)")
        long seed = 1;

        @Option(names = "--teacher", paramLabel = "<model-dir>",
                description = "a local judge, loaded and served on loopback inside each executor (instead of --endpoint)")
        String teacher;

        @Option(names = "--device", description = "executors' device for --teacher: cpu (default), auto, gpu:N")
        String device = "cpu";

        String hocon(Endpoint e) {
            StringBuilder sb = new StringBuilder(params).append('\n');
            if ((e.url == null) == (teacher == null)) {
                throw new InvalidInputException("give the judge: --endpoint <url> (e.g. distill serve <model-dir> "
                        + "--port 8000, then --endpoint http://127.0.0.1:8000/v1) or --teacher <model-dir>, not both");
            }
            if (e.url != null) {
                sb.append("endpoint.base-url = ").append(quote(e.url)).append('\n');
            }
            sb.append("endpoint.model = ").append(quote(e.model)).append('\n');
            sb.append("endpoint.api = ").append(quote(e.api)).append('\n');
            sb.append("endpoint.api-key-env = ").append(quote(e.apiKeyEnv)).append('\n');
            sb.append("endpoint.max-retries = ").append(e.maxRetries).append('\n');
            sb.append("endpoint.timeout = ").append(e.timeout).append("s\n");
            sb.append("endpoint.cache-dir = ").append(quote(e.cacheDir)).append('\n');
            if (scorer != null) {
                sb.append("scorer = ").append(quote(scorer)).append('\n');
            }
            if (minScore != null) {
                sb.append("min-score = ").append(minScore).append('\n');
            }
            if (keepUnscored) {
                sb.append("keep-unscored = true\n");
            }
            return sb.toString();
        }

        private static String quote(String s) {
            return com.typesafe.config.ConfigUtil.quoteString(s);
        }
    }

    /** {@code score}. */
    @Command(name = "score", mixinStandardHelpOptions = true,
            description = "Annotate every record with the data bundle's quality score (data.quality-filter): "
                + "meta.quality holds the score, or unscored.")
    static final class Score implements Callable<Integer> {
        @Mixin
        Common common;

        @Mixin
        Endpoint endpoint;

        @Mixin
        Quality quality;

        @Override
        public Integer call() throws Exception {
            return runQuality(common, endpoint, quality, false);
        }
    }

    /** {@code filter}. */
    @Command(name = "filter", mixinStandardHelpOptions = true,
            description = "Keep the records the data bundle's quality filter (data.quality-filter) keeps: score >= "
                + "min-score, with meta.quality.")
    static final class Filter implements Callable<Integer> {
        @Mixin
        Common common;

        @Mixin
        Endpoint endpoint;

        @Mixin
        Quality quality;

        @Override
        public Integer call() throws Exception {
            return runQuality(common, endpoint, quality, true);
        }
    }

    private static int runQuality(Common common, Endpoint endpoint, Quality quality, boolean filter) throws Exception {
        JobIo io = common.io();
        QualityJob.Options o = new QualityJob.Options(filter, quality.hocon(endpoint), endpoint.concurrency, quality.seed,
                quality.teacher, endpoint.model, quality.device);
        try (SparkSession spark = common.session(filter ? "filter" : "score")) {
            Reports.print(QualityJob.run(spark, io, o, System.err), filter, io.out(), System.out);
        }
        return OK;
    }
}
