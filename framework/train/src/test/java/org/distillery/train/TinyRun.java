package org.distillery.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

import com.typesafe.config.ConfigFactory;

import org.distillery.api.ContributionKind;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.StageResult;
import org.distillery.models.tokenizer.ByteTokenizer;

/**
 * The tiny deterministic run the reliability tests interrupt, corrupt and resume: a one-layer
 * GPT-2 student with dropout (so a resume must restore the randomness too), 64 records, batch 4,
 * a checkpoint every {@code every} steps, {@code keep} of them kept.
 */
final class TinyRun {

    private TinyRun() {
    }

    /** A run of {@code steps} steps in {@code dir/run} (data in {@code dir/data}, written once). */
    static TestRun open(Path dir, long steps, long every, int keep, String extra) throws IOException {
        Path data = dir.resolve("data");
        if (!Files.exists(data.resolve("train.jsonl"))) {
            TestRun.writeData(Files.createDirectories(data), 64);
            new ByteTokenizer().save(Files.createDirectories(data.resolve("tok")));
        }
        String conf = """
                experiment.seed = 11
                data.train-file = "%s"
                teacher.key = ""
                tokenizer.dir = "%s"
                student {
                  inherit-teacher-config = false
                  config { model_type = gpt2, vocab_size = 259, n_embd = 32, n_layer = 1, n_head = 2, n_positions = 64,
                           bos_token_id = 257, eos_token_id = 258, resid_pdrop = 0.1, embd_pdrop = 0.1, attn_pdrop = 0.1 }
                }
                train {
                  steps = %d
                  batch-size = 4
                  checkpoint-every = %d
                  keep-checkpoints = %d
                  max-length = 32
                  lr = 1e-3
                  loss = [ { key = test.ce, weight = 1.0, params {} } ]
                }
                %s
                """.formatted(data.resolve("train.jsonl"), data.resolve("tok"), steps, every, keep, extra);
        TestRun run = new TestRun(Files.createDirectories(dir.resolve("run")), TestRun.experiment(conf));
        run.register(ContributionKind.LOSS, "test.ce", new CrossEntropy(), ConfigFactory.empty());
        return run;
    }

    /** Trains the stage {@code distill}. */
    static StageResult train(TestRun run) throws Exception {
        return new KdTrainer().run(run, KdStage.named("distill"));
    }

    /** The stage's checkpoints folder. */
    static Path checkpoints(Path dir) {
        return dir.resolve("run/stages/distill/checkpoints");
    }

    /** The final weights' bytes. */
    static byte[] finalWeights(Path dir) throws IOException {
        return Files.readAllBytes(dir.resolve("run/stages/distill/final/model.safetensors"));
    }

    /** The files of a folder tree with their sizes, for comparing before and after. */
    static Map<String, Long> files(Path root) throws IOException {
        Map<String, Long> out = new TreeMap<>();
        if (!Files.exists(root)) {
            return out;
        }
        try (var s = Files.walk(root)) {
            for (Path p : (Iterable<Path>) s.filter(Files::isRegularFile)::iterator) {
                out.put(root.relativize(p).toString(), Files.size(p));
            }
        }
        return out;
    }
}
