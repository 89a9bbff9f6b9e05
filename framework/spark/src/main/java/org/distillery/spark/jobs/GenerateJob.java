package org.distillery.spark.jobs;

import java.io.IOException;
import java.io.PrintStream;
import java.io.Serializable;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import ai.djl.ndarray.NDManager;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.util.LongAccumulator;

import org.distillery.api.data.Example;
import org.distillery.api.model.GenerationOptions;
import org.distillery.api.model.GenerationResult;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.data.JsonlDataService;
import org.distillery.spark.InvalidInputException;
import org.distillery.spark.input.Inputs;
import org.distillery.spark.input.RecordCheck;
import org.distillery.spark.input.SourceLine;
import org.distillery.spark.teacher.EndpointTeacher;
import org.distillery.spark.teacher.ExecutorTeachers;
import org.distillery.spark.teacher.Seeds;
import org.distillery.kit.data.Records;
import org.distillery.teachers.cache.TeacherIdentity;

/**
 * {@code generate}: the teacher's responses to the prompts of a dataset. Each record (a
 * {@code {prompt, response}} pair, whose response is replaced, or a chat, whose last assistant
 * turn is replaced or added) gets {@code samples} responses, each decoded alone with the seed
 * {@link Seeds#of}(seed, id, sample), so the output does not depend on partitioning, retries or
 * executors. The prompt is the project's format ({@link Sequences#promptIds}), cut from the left
 * to leave room for the new tokens, as evaluation does; the response is decoded up to the first
 * end-of-sequence token.
 *
 * <p>Teachers: a local model folder, loaded once per executor JVM; or an OpenAI-compatible
 * endpoint called by every executor ({@code completion} sends the project's prompt text,
 * {@code chat} the conversation). Output: one JSONL file in input order, ids kept (with
 * {@code #<sample>} appended when {@code samples > 1}), {@code meta.teacher} naming the teacher.
 */
public final class GenerateJob {

    /**
     * What to generate.
     *
     * @param teacherDir a local teacher's model folder, or {@code null} with an endpoint
     * @param endpoint an endpoint, or {@code null} with a local teacher
     * @param device the executors' device for a local teacher
     * @param samples responses per record
     * @param maxNewTokens tokens per response at most
     * @param temperature 0 for greedy
     * @param topK 0 for none
     * @param topP 1 for none
     * @param seed the job's seed
     */
    public record Options(String teacherDir, EndpointTeacher.Settings endpoint, String device, int samples,
                          int maxNewTokens, float temperature, int topK, float topP, long seed) {

        /** Checks ranges; throws {@link InvalidInputException} naming the option. */
        public Options {
            if ((teacherDir == null) == (endpoint == null)) {
                throw new InvalidInputException("give a teacher: --teacher <model-dir> or --endpoint <url>, not both");
            }
            try {
                org.distillery.tensor.DjlTensorService.checkSpec(device);
            } catch (IllegalArgumentException e) {
                throw new InvalidInputException("--device: " + e.getMessage());
            }
            if (samples < 1) {
                throw new InvalidInputException("--samples: must be at least 1 (got " + samples + ")");
            }
            if (maxNewTokens < 1) {
                throw new InvalidInputException("--max-new-tokens: must be at least 1 (got " + maxNewTokens + ")");
            }
            if (!(temperature >= 0) || Float.isInfinite(temperature)) {
                throw new InvalidInputException("--temperature: must be >= 0 (got " + temperature + ")");
            }
            if (topK < 0) {
                throw new InvalidInputException("--top-k: must be >= 0 (got " + topK + ")");
            }
            if (!(topP > 0 && topP <= 1)) {
                throw new InvalidInputException("--top-p: must be in (0, 1] (got " + topP + ")");
            }
        }
    }

    /**
     * What was written.
     *
     * @param records input records
     * @param written responses written
     * @param refused requests an endpoint refused (dropped)
     * @param seconds wall time of the job
     */
    public record Summary(long records, long written, long refused, double seconds) {
    }

    /** What executors need, sent with each task. */
    private record Plan(String teacherDir, String weightsSha256, String teacherName, EndpointTeacher.Settings endpoint,
                        String device, int samples, int maxNewTokens, float temperature, int topK, float topP,
                        long seed, Faults faults) implements Serializable {
    }

    private GenerateJob() {
    }

    /** The records generation accepts: pairs, and chats (with a completion endpoint, pairs only). */
    static RecordCheck check(Options o) {
        boolean completionOnly = o.endpoint() != null && o.endpoint().api().equals("completion");
        return e -> {
            if (e.text() != null) {
                return "a text record has no prompt to answer (generate needs {prompt, response} or {messages} records)";
            }
            if (completionOnly && e.prompt() == null) {
                return "a chat record needs --api chat (a completion endpoint gets the project's prompt text, "
                        + "which needs the teacher's chat template)";
            }
            return null;
        };
    }

    /** Runs the job. */
    public static Summary run(SparkSession spark, JobIo io, Options o, PrintStream err) throws IOException {
        long t0 = System.nanoTime();
        Output output = Output.prepare(io.out(), spark.sparkContext().hadoopConfiguration(), io.overwrite());
        String sha = null;
        String name;
        if (o.teacherDir() != null) {
            try {
                sha = TeacherIdentity.of(Path.of(o.teacherDir())).weightsSha256();
            } catch (IOException e) {
                throw new InvalidInputException("--teacher: " + e.getMessage());
            }
            name = Path.of(o.teacherDir()).toAbsolutePath().normalize().getFileName().toString();
        } else {
            name = o.endpoint().model();
        }
        Plan plan = new Plan(o.teacherDir() == null ? null : Path.of(o.teacherDir()).toAbsolutePath().normalize()
                .toString(), sha, name, o.endpoint(), o.device(), o.samples(), o.maxNewTokens(), o.temperature(),
                o.topK(), o.topP(), o.seed(), Faults.parse(spark.sparkContext().getConf().get(Faults.KEY, "")));
        try (output; Inputs.Input input = Inputs.open(spark, io.in(), io.inFormat(), io.splitBytes(), check(o));
             Progress progress = new Progress(spark, "generate", "records", input.records(), io.progressSeconds(),
                     err)) {
            int parts = io.partitions() > 0 ? io.partitions() : spark.sparkContext().defaultParallelism();
            LongAccumulator counter = progress.counter();
            LongAccumulator refused = spark.sparkContext().longAccumulator("distillery.generate.refused");
            LongAccumulator written = spark.sparkContext().longAccumulator("distillery.generate.written");
            JavaRDD<String> lines = Partitioning.inOrder(input.lines(), input.records(), parts)
                    .mapPartitions(it -> generate(it, plan, counter, refused, written));
            output.writeJsonl(spark, lines);
            double seconds = (System.nanoTime() - t0) / 1e9;
            err.println(progress.line(progress.done()));
            return new Summary(input.records(), written.value(), refused.value(), seconds);
        }
    }

    private static Iterator<String> generate(Iterator<SourceLine> it, Plan plan, LongAccumulator counter,
                                             LongAccumulator refused, LongAccumulator written) throws IOException {
        ExecutorTeachers.Loaded teacher = plan.teacherDir() == null ? null
                : ExecutorTeachers.teacher(plan.teacherDir(), plan.weightsSha256(), plan.device());
        return new Iterator<>() {
            private final java.util.ArrayDeque<String> ready = new java.util.ArrayDeque<>();
            private long produced;

            @Override
            public boolean hasNext() {
                while (ready.isEmpty() && it.hasNext()) {
                    answer(it.next());
                }
                return !ready.isEmpty();
            }

            @Override
            public String next() {
                if (!hasNext()) {
                    throw new java.util.NoSuchElementException();
                }
                return ready.poll();
            }

            private void answer(SourceLine line) {
                Example e = line.parse();
                for (int s = 0; s < plan.samples(); s++) {
                    long seed = Seeds.of(plan.seed(), e.id(), s);
                    String response;
                    if (teacher != null) {
                        response = local(teacher, e, plan, seed);
                    } else {
                        EndpointTeacher.Reply r = EndpointTeacher.generate(plan.endpoint(), turns(e), promptText(e),
                                plan.maxNewTokens(), plan.temperature(), plan.topP(), seed);
                        if (r.refusal() != null) {
                            refused.add(1);
                            continue;
                        }
                        response = r.text();
                    }
                    ready.add(JsonlDataService.toJsonLine(answered(e, response, plan, s)));
                    written.add(1);
                }
                counter.add(1);
                produced++;
                plan.faults().check(produced);
            }
        };
    }

    /** The record with the teacher's response in place of the reference. */
    static Example answered(Example e, String response, Plan plan, int sample) {
        Map<String, String> meta = new LinkedHashMap<>(e.meta() == null ? Map.of() : e.meta());
        meta.put("teacher", plan.teacherName());
        if (plan.samples() > 1) {
            meta.put("sample", Integer.toString(sample));
        }
        String id = plan.samples() > 1 ? e.id() + "#" + sample : e.id();
        if (e.prompt() != null) {
            return Example.pair(id, e.prompt(), response, Map.copyOf(meta));
        }
        List<Example.Message> msgs = new ArrayList<>(e.messages());
        if (msgs.get(msgs.size() - 1).role().equals("assistant")) {
            msgs.remove(msgs.size() - 1);
        }
        msgs.add(new Example.Message("assistant", response));
        return new Example(id, null, null, List.copyOf(msgs), null, Map.copyOf(meta));
    }

    private static List<Tokenizer.ChatTurn> turns(Example e) {
        if (e.prompt() != null) {
            return List.of(new Tokenizer.ChatTurn("user", e.prompt()));
        }
        List<Tokenizer.ChatTurn> turns = new ArrayList<>();
        List<Example.Message> msgs = e.messages();
        int last = msgs.get(msgs.size() - 1).role().equals("assistant") ? msgs.size() - 1 : msgs.size();
        for (int i = 0; i < last; i++) {
            turns.add(new Tokenizer.ChatTurn(msgs.get(i).role(), msgs.get(i).content()));
        }
        return turns;
    }

    private static String promptText(Example e) {
        return e.prompt() == null ? null : e.prompt() + Records.PROMPT_SUFFIX;
    }

    private static String local(ExecutorTeachers.Loaded t, Example e, Plan plan, long seed) {
        LanguageModel model = t.model();
        Tokenizer tok = t.tokenizer();
        int[] prompt = promptIds(e, tok, model, plan.maxNewTokens());
        GenerationOptions go = new GenerationOptions(plan.maxNewTokens(), plan.temperature(), plan.topK(), plan.topP(),
                Set.of(), seed, true);
        try (NDManager m = t.manager().newSubManager()) {
            GenerationResult r = ExecutorTeachers.models().generator().generate(model, List.of(prompt), go, m);
            return tok.decode(untilStop(r.tokens().get(0), tok.eosId()));
        }
    }

    /** Prompt ids cut from the left (keeping bos) so that prompt plus {@code room} new tokens fit. */
    static int[] promptIds(Example e, Tokenizer tok, LanguageModel model, int room) {
        int[] ids = Records.promptIds(e, tok);
        int limit = Math.max(2, model.config().maxPositions() - room);
        if (ids.length <= limit) {
            return ids;
        }
        boolean bos = tok.bosId().isPresent() && ids[0] == tok.bosId().getAsInt();
        int[] cut = new int[limit];
        int keep = bos ? 1 : 0;
        if (bos) {
            cut[0] = ids[0];
        }
        System.arraycopy(ids, ids.length - (limit - keep), cut, keep, limit - keep);
        return cut;
    }

    static int[] untilStop(int[] tokens, int eos) {
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] == eos) {
                return java.util.Arrays.copyOf(tokens, i);
            }
        }
        return tokens;
    }

    /** Prints the summary. */
    static void print(Summary s, String out, PrintStream stdout) {
        stdout.printf(Locale.ROOT, "generated %d responses for %d records in %.1f s (%.2f records/s)%s%n", s.written(),
                s.records(), s.seconds(), s.records() / Math.max(1e-9, s.seconds()),
                s.refused() > 0 ? ", " + s.refused() + " refused by the endpoint" : "");
        stdout.println("output: " + out);
    }
}
