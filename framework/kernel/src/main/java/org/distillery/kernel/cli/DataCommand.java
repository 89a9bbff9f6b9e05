package org.distillery.kernel.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import org.distillery.data.synthetic.Suite;
import org.distillery.data.synthetic.SuiteSettings;
import org.distillery.data.synthetic.SyntheticSuite;
import org.distillery.kernel.config.ExperimentException;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code distill data ...}: datasets. */
@Command(name = "data", mixinStandardHelpOptions = true, description = "Create datasets.",
        subcommands = {DataCommand.Synth.class})
final class DataCommand implements Callable<Integer> {

    @Override
    public Integer call() {
        new picocli.CommandLine(this).usage(System.out);
        return ExitCodes.OK;
    }

    /** {@code distill data synth}. */
    @Command(name = "synth", mixinStandardHelpOptions = true,
            description = "Write the deterministic synthetic task suite (train/validation/test/corpus JSONL).")
    static final class Synth implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "<out-dir>")
        Path out;

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
    }
}
