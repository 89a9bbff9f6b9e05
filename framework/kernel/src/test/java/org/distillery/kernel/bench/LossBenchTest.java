package org.distillery.kernel.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.EnumSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import org.distillery.api.Contribution;
import org.distillery.api.ContributionInfo;
import org.distillery.api.ContributionKind;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossContext;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;
import org.distillery.api.model.Logits;
import org.distillery.kit.loss.Chunks;
import org.junit.jupiter.api.Test;

/**
 * {@code distill bench loss} at a small shape: both training paths compute the same loss and the
 * same gradients, and every figure is printed. (No timing or memory is asserted.)
 */
class LossBenchTest {

    /** Forward KL written here over the kit's chunks, as kd-core's is, so the kernel's test needs no bundle. */
    private static final class ForwardKl implements Loss {
        private final int chunkSize;

        ForwardKl(int chunkSize) {
            this.chunkSize = chunkSize;
        }

        @Override
        public Set<Need> needs() {
            return EnumSet.of(Need.TEACHER_LOGITS);
        }

        @Override
        public LossValue compute(LossInput input) {
            Logits teacher = input.teacher().logitsView();
            NDArray mask = input.batch().lossMask();
            NDArray sum = Chunks.sum(input.logits(), chunkSize, input, (chunk, positions, s) -> {
                NDArray logP = Chunks.slice(teacher, positions, chunk).logSoftmax(-1);
                NDArray perPosition = logP.exp().mul(logP.sub(s.logSoftmax(-1))).sum(new int[] {-1});
                return perPosition.mul(Chunks.slice(mask, positions, chunk)).sum();
            });
            return new LossValue(sum, Chunks.count(mask));
        }
    }

    private static Contribution<LossFactory> forwardKl() {
        LossFactory factory = new LossFactory() {
            @Override
            public String description() {
                return "forward KL for the benchmark's test";
            }

            @Override
            public Loss create(LossContext context, Config params) {
                return new ForwardKl(params.getInt("chunk-size"));
            }
        };
        return new Contribution<>(new ContributionInfo(ContributionKind.LOSS, "kd.forward-kl", "test", "0", "test"),
                factory, ConfigFactory.parseString("temperature = 1.0, chunk-size = 64"));
    }

    @Test
    void fusedAndUnfusedTrainingComputeTheSameLossAndGradients() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (NDManager manager = NDManager.newBaseManager();
             PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
            LossBench.run(out, manager, forwardKl(), new LossBench.Options(2, 32, 256, 64, 96, 16, 1));
        }
        String report = bytes.toString(StandardCharsets.UTF_8);
        Matcher same = Pattern.compile("loss/token ([0-9.]+) vs ([0-9.]+), largest gradient difference ([0-9.e+-]+)")
                .matcher(report);
        assertTrue(same.find(), report);
        assertEquals(Double.parseDouble(same.group(1)), Double.parseDouble(same.group(2)), 1e-5, report);
        assertTrue(Double.parseDouble(same.group(3)) < 1e-4, report);
        for (String figure : new String[] {"chunked / unchunked peak:", "unfused (chunks of", "fused   (chunks of",
            "fused / unfused peak native memory:", "fused / unfused step time:"}) {
            assertTrue(report.contains(figure), "missing '" + figure + "' in\n" + report);
        }
    }

    @Test
    void optionsOutOfRangeAreRefusedNamingTheValues() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new LossBench.Options(0, 512, 32000, 512, 512, 64, 3).check());
        assertTrue(e.getMessage().contains("batch=0"), e.getMessage());
    }
}
