package org.distillery.gkd.internal;

import java.nio.file.Path;
import java.util.Random;

import org.distillery.testkit.TestRunContext;

/** The shared test run for the sampler tests: a plain HOCON config, a seed; no registry, no event capture needed. */
final class TestRun extends TestRunContext {

    TestRun(Path dir, String hocon) {
        super(builder().dir(dir).hocon(hocon).runId("gkd-test").scope("gkd-test").noRegistry()
                .random((seed, purpose) -> new Random(seed * 1_000_003L + purpose.hashCode())));
    }
}
