package org.distillery.kernel.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import org.distillery.data.synthetic.ReasoningSettings;
import org.distillery.data.synthetic.ReasoningSuite;
import org.distillery.data.synthetic.Suite;
import org.distillery.data.synthetic.SuiteSettings;
import org.distillery.data.synthetic.SyntheticSuite;
import org.distillery.data.synthetic.vision.VisionSuite;
import org.distillery.data.synthetic.vision.VisionSuiteSettings;
import org.distillery.kernel.config.ExperimentException;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code distill data ...}: datasets. */
@Command(name = "data", mixinStandardHelpOptions = true, description = "Create datasets.",
        subcommands = {DataCommand.Synth.class, DataCommand.SynthVision.class})
final class DataCommand implements Callable<Integer> {

    @Override
    public Integer call() {
        new picocli.CommandLine(this).usage(System.out);
        return ExitCodes.OK;
    }

    /** {@code distill data synth}. */
    @Command(name = "synth", mixinStandardHelpOptions = true,
            description = {"Write the deterministic synthetic task suite (train/validation/test/corpus JSONL).",
                "--suite reasoning writes the reasoning suite instead: multi-digit add/sub/mul with step-by-step "
                    + "traces (train, train-answers, validation, test with an out-of-domain part of more digits)."})
    static final class Synth implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "<out-dir>")
        Path out;

        @Option(names = "--suite", description = "general (default) or reasoning")
        String suiteName = "general";

        @Option(names = "--ood", description = "reasoning: out-of-domain test problems")
        Integer ood;

        @Option(names = "--max-digits", description = "reasoning: in-domain operands have at most this many digits")
        Integer maxDigits;

        @Option(names = "--ood-digits", description = "reasoning: out-of-domain problems have an operand of this many "
                + "digits")
        Integer oodDigits;

        @Option(names = "--seed", description = "world and sampling seed (default: the suite default)")
        Long seed;

        @Option(names = "--entities", description = "entities in the generated world")
        Integer entities;

        @Option(names = "--train", description = "training examples")
        Integer train;

        @Option(names = "--validation", description = "validation examples")
        Integer validation;

        @Option(names = "--test", description = "test examples")
        Integer test;

        @Option(names = "--corpus", description = "pre-training corpus records")
        Integer corpus;

        @Override
        public Integer call() throws Exception {
            if (suiteName.equals("reasoning")) {
                return reasoning();
            }
            if (!suiteName.equals("general")) {
                throw new ExperimentException(List.of("data synth: --suite: unknown suite '" + suiteName
                        + "' (accepted: general, reasoning)"));
            }
            if (ood != null || maxDigits != null || oodDigits != null) {
                throw new ExperimentException(List.of("data synth: --ood, --max-digits and --ood-digits belong to "
                        + "--suite reasoning"));
            }
            SuiteSettings s = SuiteSettings.defaults();
            if (seed != null) {
                s = s.withSeed(seed);
            }
            if (entities != null) {
                s = s.withEntities(entities);
            }
            s = s.withSizes(train != null ? train : s.trainSize(), validation != null ? validation : s.validationSize(),
                    test != null ? test : s.testSize(), corpus != null ? corpus : s.corpusSize());
            Suite suite;
            try {
                suite = SyntheticSuite.generate(s);
            } catch (IllegalArgumentException e) {
                throw new ExperimentException(List.of("data synth: " + e.getMessage()));
            }
            suite.write(out);
            System.out.println("suite written to " + out + ": " + suite.summary());
            return ExitCodes.OK;
        }

        private Integer reasoning() throws Exception {
            if (entities != null || corpus != null) {
                throw new ExperimentException(List.of("data synth: --entities and --corpus belong to the general "
                        + "suite, not --suite reasoning"));
            }
            ReasoningSuite.Result suite;
            try {
                ReasoningSettings s = ReasoningSettings.defaults();
                if (seed != null) {
                    s = s.withSeed(seed);
                }
                s = s.withSizes(train != null ? train : s.trainSize(),
                        validation != null ? validation : s.validationSize(), test != null ? test : s.testSize(),
                        ood != null ? ood : s.oodSize());
                s = s.withDigits(maxDigits != null ? maxDigits : s.maxDigits(),
                        oodDigits != null ? oodDigits : s.oodDigits());
                suite = ReasoningSuite.generate(s);
            } catch (IllegalArgumentException e) {
                throw new ExperimentException(List.of("data synth: " + e.getMessage()));
            }
            suite.write(out);
            System.out.println("reasoning suite written to " + out + ": " + suite.summary());
            return ExitCodes.OK;
        }
    }

    /** {@code distill data synth-vision}. */
    @Command(name = "synth-vision", mixinStandardHelpOptions = true,
            description = {"Write the deterministic synthetic image suite: PNG images of coloured shapes, counts (1-5), "
                + "spatial relations and bitmap-font digits; captions (captions-<split>.jsonl, for distilled "
                + "pre-training), questions with one exact answer (qa-<split>.jsonl: color, shape, count, spatial, "
                + "digit), both for evaluation (validation.jsonl, test.jsonl), the questions about scenes described in words (qa-text-<split>.jsonl), a text-only corpus and suite.json.",
                "The same seed gives pixel-identical images on every JDK."})
    static final class SynthVision implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "<out-dir>")
        Path out;

        @Option(names = "--seed", description = "scene seed (default: the suite default)")
        Long seed;

        @Option(names = "--image-size", description = "square image side in pixels (default 48)")
        Integer size;

        @Option(names = "--train", description = "training scenes (default 3000)")
        Integer train;

        @Option(names = "--validation", description = "validation scenes (default 150)")
        Integer validation;

        @Option(names = "--test", description = "test scenes (default 250)")
        Integer test;

        @Option(names = "--corpus", description = "text-only corpus lines (default 3000)")
        Integer corpus;

        @Override
        public Integer call() throws Exception {
            VisionSuiteSettings s;
            try {
                s = VisionSuiteSettings.defaults();
                if (seed != null) {
                    s = s.withSeed(seed);
                }
                if (size != null) {
                    s = s.withImageSize(size);
                }
                s = s.withSizes(train != null ? train : s.trainScenes(),
                        validation != null ? validation : s.validationScenes(),
                        test != null ? test : s.testScenes(), corpus != null ? corpus : s.corpus());
            } catch (IllegalArgumentException e) {
                throw new ExperimentException(List.of("data synth-vision: " + e.getMessage()));
            }
            VisionSuite.Summary summary = new VisionSuite(s).write(out);
            System.out.println("vision suite written to " + out + ": " + summary);
            return ExitCodes.OK;
        }
    }
}
