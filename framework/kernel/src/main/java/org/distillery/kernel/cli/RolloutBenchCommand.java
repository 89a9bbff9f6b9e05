package org.distillery.kernel.cli;

import java.util.List;
import java.util.concurrent.Callable;

import org.distillery.kernel.config.ExperimentException;
import org.distillery.models.bench.GenerateBench;
import org.distillery.models.bench.RolloutBench;
import org.distillery.tensor.DjlTensorService;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code distill bench rollout}: teacher-mixed rollouts against plain student sampling. */
@Command(name = "rollout", mixinStandardHelpOptions = true,
        description = {"Sampling tokens/s of rollouts with MiniLLM's teacher-mixed hook (generateMixed: student and "
            + "teacher step together with KV caches, each token drawn from alpha * p + (1 - alpha) * q) against plain "
            + "student sampling, in the same command, and the cost ratio (goal: at most 2x with a same-size teacher).",
            "Then the GRPO case: G samples per prompt as rl.grpo draws them (one batched call over batch x G rows, "
                + "then with its scoring pass) against plain sampling of the same tokens (G calls of one sample per "
                + "prompt).",
            "Defaults: student and teacher of the bench generate shape (~20M parameters each), batch 4, 128 new "
                + "tokens, alpha 0.2, temperature 1, G = 4."})
final class RolloutBenchCommand implements Callable<Integer> {

    @Option(names = "--lengths", split = ",", paramLabel = "N", description = "new tokens per measurement (default 128)")
    int[] lengths = {128};

    @Option(names = "--batch", split = ",", paramLabel = "B", description = "batch sizes (default 4), e.g. 1,4")
    int[] batches = {4};

    @Option(names = "--alpha", description = "teacher weight of the mixture (default 0.2, MiniLLM's)")
    float alpha = 0.2f;

    @Option(names = "--teacher-hidden", description = "teacher width (default: the student's, 384)")
    int teacherHidden;

    @Option(names = "--teacher-layers", description = "teacher depth (default: the student's, 6)")
    int teacherLayers;

    @Option(names = "--group", description = "GRPO samples per prompt (default 4; 0 skips the GRPO case)")
    int group = 4;

    @Option(names = "--repeats", description = "interleaved runs per figure, the best is printed (default 1)")
    int repeats = 1;

    @Option(names = "--device", description = "auto (default), cpu, gpu or gpu:N")
    String device = "auto";

    @Override
    public Integer call() {
        RolloutBench.Options o = RolloutBench.Options.defaults()
                .withStudent(GenerateBench.Options.defaults().withLengths(lengths).withBatches(batches)
                        .withRepeats(repeats))
                .withTeacher(teacherHidden, teacherLayers).withAlpha(alpha).withGroup(group);
        try {
            o.check();
            DjlTensorService.checkSpec(device);
        } catch (IllegalArgumentException e) {
            throw new ExperimentException(List.of("bench rollout: " + e.getMessage()));
        }
        try (DjlTensorService tensors = DjlTensorService.start(device)) {
            RolloutBench.run(System.out, tensors, o);
        }
        return ExitCodes.OK;
    }
}
