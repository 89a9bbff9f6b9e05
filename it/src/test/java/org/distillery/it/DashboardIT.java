package org.distillery.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import com.sun.net.httpserver.HttpServer;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.openqa.selenium.By;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * {@code distill dashboard} of the real distribution in a real headless Chromium: two runs of one
 * experiment (seeds 1 and 2, a 30-step kd.compare with an evaluation) made by {@code distill run},
 * a run that fails, and a "running" run whose log the test appends to while it holds the run's
 * lock. Screenshots of each view go to {@code target/screenshots/}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DashboardIT {

    static final int STEPS = 30;

    Distribution dist;
    Path runs;
    Path seed1;
    Path seed2;
    Path failed;
    Path live;
    List<String> liveRest;
    FileChannel liveChannel;
    FileLock liveLock;
    Process dashboard;
    String base;
    Browser browser;

    @BeforeAll
    void runsDashboardAndBrowser() throws Exception {
        dist = Distribution.copy();
        runs = dist.work.resolve("runs");
        Path exp = dist.work.resolve("watch.conf");
        Files.writeString(exp, "include file(\"" + dist.home.resolve("config/fragments/embedded.conf") + "\")\n" + """
                experiment { name = watch, progress = lines, seeds = [1, 2] }
                train {
                  steps = %d
                  batch-size = 4
                  lr = 3e-3
                  warmup-steps = 2
                  eval-every = 10
                  eval-batches = 2
                  checkpoint-every = 10
                }
                method {
                  key = kd.compare
                  params {
                    variants = [ { name = forward-kl, loss = [ { key = kd.forward-kl } ] } ]
                    evaluate {
                      limit = 40
                      max-new-tokens = 12
                      metrics = [ { key = eval.rouge-l }, { key = eval.exact-match } ]
                      columns = [rouge-l, exact-match]
                    }
                  }
                }
                """.formatted(STEPS));
        // experiment.seeds: one distill run, once per seed, then distill compare's table over both
        Distribution.Result r = dist.run(1200, "run", exp.toString());
        assertEquals(0, r.exit(), r.all());
        List<Path> made = runDirs();
        assertEquals(2, made.size(), made.toString());
        seed1 = made.get(0);
        seed2 = made.get(1);
        assertEquals("1", seedOf(seed1));
        assertEquals("2", seedOf(seed2));
        assertTrue(r.out().contains("mean ± std over 2 seeds"), r.out());
        Matcher row = Pattern.compile("(?m)^.*forward-kl.* ± .*\\(2\\).*$").matcher(r.out());
        assertTrue(row.find(), "a forward-kl row aggregated over the two seeds: " + r.out());

        // A malformed line fails validation before a run directory exists; a record with an image the
        // text-only student cannot take passes it and fails in the run's first stage, leaving a failed run.
        Path bad = dist.work.resolve("bad.jsonl");
        Files.copy(dist.home.resolve("config/data/vision-suite/images/test/00000.png"), dist.work.resolve("red.png"));
        Files.writeString(bad, "{\"id\":\"a\",\"prompt\":\"x\",\"response\":\"y\"}\n"
                + "{\"id\":\"b\",\"image\":\"red.png\",\"prompt\":\"What color?\",\"response\":\"red\"}\n");
        Distribution.Result f = dist.run(300, "run", "smoke", "--set", "experiment.name=broken", "--set",
                "experiment.progress=lines", "--set", "data.train-file=" + bad);
        assertEquals(2, f.exit(), f.all());
        failed = runDirs().stream().filter(p -> p.getFileName().toString().startsWith("broken-")).findFirst()
                .orElseThrow();

        // a run "in progress": seed 1's first 10 steps, the lock held by this test as a live run holds it
        live = Files.createDirectories(runs.resolve("live-20260101-120000"));
        Files.createDirectories(live.resolve("control"));
        Files.writeString(live.resolve("config.conf"), Files.readString(seed1.resolve("config.conf"))
                + "\nexperiment.name = live\n");
        List<String> lines = Files.readAllLines(seed1.resolve("events.jsonl"));
        int cut = indexOfStep(lines, 10) + 1;
        Files.writeString(live.resolve("events.jsonl"), String.join("\n", lines.subList(0, cut)) + "\n");
        liveRest = new ArrayList<>(lines.subList(cut, lines.size()));
        liveChannel = FileChannel.open(live.resolve("control/lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        liveLock = liveChannel.lock();

        dashboard = dist.start("dashboard", "dashboard", runs.toString(), "--port", "0");
        int port = awaitPort();
        base = "http://127.0.0.1:" + port + "/";
        browser = Browser.start();
    }

    /** The {@code experiment.seed} a run directory's resolved config records. */
    private static String seedOf(Path runDir) throws IOException {
        Matcher m = Pattern.compile("(?m)^\\s*\"?seed\"?\\s*[=:]\\s*(\\d+)").matcher(Files.readString(runDir.resolve("config.conf")));
        assertTrue(m.find(), "no experiment.seed in " + runDir);
        return m.group(1);
    }

    @AfterAll
    void stopAll() throws Exception {
        if (browser != null) {
            browser.close();
        }
        if (dashboard != null) {
            dashboard.destroy();
            dashboard.waitFor();
        }
        if (liveLock != null) {
            liveLock.release();
            liveChannel.close();
        }
        if (dist != null) {
            dist.close();
        }
    }

    private List<Path> runDirs() throws IOException {
        try (Stream<Path> s = Files.list(runs)) {
            return s.filter(p -> Files.isRegularFile(p.resolve("config.conf"))).sorted().toList();
        }
    }

    private static int indexOfStep(List<String> lines, int step) {
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).contains("\"type\":\"step\"") && lines.get(i).contains("\"step\":" + step + ",")) {
                return i;
            }
        }
        throw new AssertionError("no step " + step);
    }

    private int awaitPort() throws Exception {
        Pattern p = Pattern.compile("port (\\d+)");
        long deadline = System.currentTimeMillis() + 60_000;
        while (System.currentTimeMillis() < deadline) {
            Matcher m = p.matcher(dist.output("dashboard"));
            if (m.find()) {
                return Integer.parseInt(m.group(1));
            }
            if (!dashboard.isAlive()) {
                throw new AssertionError("dashboard exited: " + dist.output("dashboard"));
            }
            Thread.sleep(100);
        }
        throw new AssertionError("dashboard did not start: " + dist.output("dashboard"));
    }

    /** A wait that looks again when the page re-rendered an element it was reading (the tables redraw live). */
    private WebDriverWait waitUpTo(int seconds) {
        WebDriverWait wait = new WebDriverWait(browser.driver, Duration.ofSeconds(seconds));
        wait.ignoring(StaleElementReferenceException.class);
        return wait;
    }

    private WebElement chart(String metric) {
        return browser.driver.findElement(By.cssSelector("figure.chart[data-metric='" + metric + "']"));
    }

    private int points(String metric) {
        List<WebElement> f = browser.driver.findElements(By.cssSelector("figure.chart[data-metric='" + metric + "']"));
        return f.isEmpty() ? -1 : Integer.parseInt(f.get(0).getAttribute("data-points"));
    }

    private void noConsoleErrors(String page) {
        List<String> severe = browser.severeConsole();
        assertTrue(severe.isEmpty(), page + ": console errors (script errors or CSP violations): " + severe);
    }

    private static String id(Path run) {
        return run.getFileName().toString();
    }

    @Test
    @Order(1)
    void theRunsPageListsBothSeedsWithTheirStatus() throws Exception {
        browser.driver.get(base);
        waitUpTo(30).until(d -> d.findElements(By.cssSelector("#runs-table tr[data-run]")).size() == 4);
        for (Path seed : List.of(seed1, seed2)) {
            WebElement row = browser.driver.findElement(By.cssSelector("tr[data-run='" + id(seed) + "']"));
            assertEquals("finished", row.getAttribute("data-status"));
            assertTrue(row.getText().contains("watch"), row.getText());
            assertTrue(row.getText().contains("forward-kl"), "stages are listed: " + row.getText());
            assertTrue(row.getText().contains(STEPS + "/" + STEPS), row.getText());
        }
        assertTrue(browser.driver.findElement(By.cssSelector("tr[data-run='" + id(seed1) + "'] td:nth-child(5)"))
                .getText().equals("1"));
        assertTrue(browser.driver.findElement(By.cssSelector("tr[data-run='" + id(seed2) + "'] td:nth-child(5)"))
                .getText().equals("2"));
        WebElement broken = browser.driver.findElement(By.cssSelector("tr[data-run='" + id(failed) + "']"));
        assertEquals("failed", broken.getAttribute("data-status"));
        assertTrue(broken.getText().contains("has an image"), "the reason is shown: " + broken.getText());
        assertEquals("running", browser.driver.findElement(By.cssSelector("tr[data-run='" + id(live) + "']"))
                .getAttribute("data-status"));
        WebElement group = browser.driver.findElement(By.xpath("//ul[@id='groups']/li[contains(., 'watch')]"));
        assertTrue(group.getText().contains("seeds 1, 2"), group.getText());
        browser.screenshot("runs");
        noConsoleErrors("runs");
    }

    @Test
    @Order(2)
    void theLossChartHasOnePointPerStep() throws Exception {
        browser.driver.get(base + "#/run/" + id(seed1));
        waitUpTo(30).until(d -> points("loss") == STEPS);
        assertEquals(STEPS, points("terms.0:kd.forward-kl"));
        assertEquals(STEPS / 10, points("val.loss"), "validation every 10 steps");
        for (String m : List.of("lr", "grad-norm", "tokens-per-s", "tensor-bytes", "native-bytes")) {
            assertEquals(STEPS, points(m), m);
        }
        List<WebElement> checkpoints = browser.driver.findElements(By.cssSelector("li.marker[data-kind='checkpoint']"));
        assertEquals(3, checkpoints.size(), "checkpoints at 10, 20 and 30 are marked");
        assertTrue(chart("loss").findElement(By.tagName("canvas")).isDisplayed());
        browser.screenshot("run");
        noConsoleErrors("run");
    }

    @Test
    @Order(3)
    void linesAppendedToARunningRunAppearWithinFiveSeconds() throws Exception {
        browser.driver.get(base + "#/run/" + id(live));
        waitUpTo(30).until(d -> points("loss") == 10);
        assertTrue(browser.driver.findElement(By.cssSelector("#run-summary .status")).getText().contains("running"));
        int upTo = indexOfStep(liveRest, 15) + 1;
        String appended = String.join("\n", liveRest.subList(0, upTo)) + "\n";
        String next = liveRest.get(upTo);
        Path events = live.resolve("events.jsonl");
        // five complete lines and half of the sixth, as a writer caught mid-line leaves them
        Files.writeString(events, appended + next.substring(0, next.length() / 2), StandardCharsets.UTF_8,
                StandardOpenOption.APPEND);
        waitUpTo(5).until(d -> points("loss") == 15);
        Thread.sleep(1000);
        assertEquals(15, points("loss"), "the half-written line is not drawn");
        Files.writeString(events, next.substring(next.length() / 2) + "\n", StandardCharsets.UTF_8,
                StandardOpenOption.APPEND);
        waitUpTo(5).until(d -> points("loss") == 16);
        browser.screenshot("live");
        noConsoleErrors("live");
    }

    @Test
    @Order(4)
    void theCompareViewShowsTheSeedBandAndTheCompareTable() throws Exception {
        browser.driver.get(base + "#/compare?runs=" + id(seed1) + "," + id(seed2));
        waitUpTo(30).until(d -> !d.findElements(By.cssSelector("figure.chart[data-metric='loss']")).isEmpty()
                && Integer.parseInt(chart("loss").getAttribute("data-bands")) >= 1);
        assertEquals("min-max", chart("loss").getAttribute("data-band"));
        assertEquals(STEPS, points("loss"), "the mean curve has a point per step");
        assertTrue(browser.driver.findElement(By.id("compare-groups")).getText().contains("watch (seeds 1, 2)"));
        WebElement table = browser.driver.findElement(By.id("compare-table"));
        waitUpTo(10).until(d -> table.getText().contains("watch/forward-kl"));
        assertTrue(table.getText().contains("watch/teacher"), table.getText());
        assertTrue(table.getText().contains("(2)"), "aggregated over the two seeds: " + table.getText());
        browser.screenshot("compare");
        new Select(browser.driver.findElement(By.id("band"))).selectByValue("std");
        waitUpTo(10).until(d -> "std".equals(chart("loss").getAttribute("data-band"))
                && Integer.parseInt(chart("loss").getAttribute("data-bands")) >= 1);
        noConsoleErrors("compare");
    }

    @Test
    @Order(5)
    void thePredictionsTableFiltersByTaskAndSortsByRougeL() throws Exception {
        browser.driver.get(base + "#/eval/" + id(seed1));
        waitUpTo(30).until(d -> d.findElements(By.cssSelector("#predictions tbody tr")).size() == 40);
        assertTrue(browser.driver.findElement(By.id("eval-table")).getText().contains("teacher"));
        new Select(browser.driver.findElement(By.id("model"))).selectByValue("teacher");
        waitUpTo(10).until(d -> d.findElements(By.cssSelector("#predictions tbody tr")).stream()
                .anyMatch(r -> !r.getAttribute("data-rouge").equals("0")));
        Select task = new Select(browser.driver.findElement(By.id("task-filter")));
        List<String> tasks = task.getOptions().stream().map(o -> o.getAttribute("value")).filter(v -> !v.isEmpty())
                .toList();
        assertTrue(tasks.containsAll(List.of("arith", "describe", "fact", "string", "yesno")), tasks.toString());
        task.selectByValue("yesno");
        waitUpTo(10).until(d -> {
            List<WebElement> rows = d.findElements(By.cssSelector("#predictions tbody tr"));
            return !rows.isEmpty() && rows.size() < 40 && rows.stream().allMatch(r -> "yesno".equals(r.getAttribute(
                    "data-task")));
        });
        assertTrue(browser.driver.findElement(By.id("predictions-count")).getText().contains("of task yesno"));
        task.selectByValue("");
        new Select(browser.driver.findElement(By.id("sort"))).selectByValue("-rouge-l");
        waitUpTo(10).until(d -> {
            List<WebElement> rows = d.findElements(By.cssSelector("#predictions tbody tr"));
            if (rows.size() != 40) {
                return false;
            }
            double prev = Double.POSITIVE_INFINITY;
            for (WebElement r : rows) {
                double v = Double.parseDouble(r.getAttribute("data-rouge"));
                if (v > prev) {
                    return false;
                }
                prev = v;
            }
            return true;
        });
        browser.screenshot("eval");
        noConsoleErrors("eval");
    }

    @Test
    @Order(6)
    void reportHtmlDrawsTheSameChartsFromAFile() throws Exception {
        Path report = seed1.resolve("report.html");
        assertTrue(Files.isRegularFile(report));
        String html = Files.readString(report);
        assertTrue(!html.contains("src=\"http") && !html.contains("<link"), "self-contained");
        browser.driver.get(report.toUri().toString());
        waitUpTo(30).until(d -> points("loss") == STEPS);
        assertTrue(browser.driver.findElement(By.tagName("table")).getText().contains("teacher"));
        browser.screenshot("report");
        noConsoleErrors("report.html");
    }

    @Test
    @Order(7)
    void exportsToTensorBoardAndMlflowThroughTheCommandLine() throws Exception {
        Path tb = dist.work.resolve("tb");
        Distribution.Result r = dist.run(120, "export", "tensorboard", seed1.toString(), tb.toString());
        assertEquals(0, r.exit(), r.all());
        Path file;
        try (Stream<Path> s = Files.walk(tb)) {
            file = s.filter(p -> p.getFileName().toString().startsWith("events.out.tfevents.")).findFirst().orElseThrow();
        }
        assertEquals("forward-kl", file.getParent().getFileName().toString());
        byte[] bytes = Files.readAllBytes(file);
        assertArrayEquals(new byte[] {0x18, 0, 0, 0, 0, 0, 0, 0, (byte) 0xa3, 0x7f, 0x4b, 0x22},
                Arrays.copyOf(bytes, 12), "TensorFlow's file-version record");
        assertTrue(r.out().contains(" scalars"), r.out());

        List<String> calls = Collections.synchronizedList(new ArrayList<>());
        HttpServer stub = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 8);
        stub.createContext("/", ex -> {
            ex.getRequestBody().readAllBytes();
            String path = ex.getRequestURI().getPath();
            calls.add(ex.getRequestMethod() + " " + path);
            String body = switch (path) {
                case "/api/2.0/mlflow/experiments/get-by-name" -> "{\"experiment\":{\"experiment_id\":\"1\"}}";
                case "/api/2.0/mlflow/runs/create" -> "{\"run\":{\"info\":{\"run_id\":\"r1\","
                        + "\"artifact_uri\":\"mlflow-artifacts:/1/r1/artifacts\"}}}";
                default -> "{}";
            };
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, b.length);
            ex.getResponseBody().write(b);
            ex.close();
        });
        stub.start();
        try {
            Distribution.Result m = dist.run(120, "export", "mlflow", seed1.toString(), "--tracking-uri",
                    "http://127.0.0.1:" + stub.getAddress().getPort());
            assertEquals(0, m.exit(), m.all());
            assertTrue(calls.contains("POST /api/2.0/mlflow/runs/create"), calls.toString());
            assertTrue(calls.contains("POST /api/2.0/mlflow/runs/log-batch"), calls.toString());
            assertTrue(calls.contains("PUT /api/2.0/mlflow-artifacts/artifacts/1/r1/artifacts/report.html"),
                    calls.toString());
            assertTrue(calls.contains("POST /api/2.0/mlflow/runs/update"), calls.toString());
        } finally {
            stub.stop(0);
        }
        assertEquals(2, dist.run(60, "export", "mlflow", seed1.toString(), "--tracking-uri", "ftp://x").exit());
        assertEquals(2, dist.run(60, "export", "tensorboard", dist.work.toString(), tb.toString()).exit());
        assertEquals(2, dist.run(60, "dashboard", dist.work.resolve("no-such-folder").toString()).exit());
        assertEquals(2, dist.run(60, "dashboard", runs.toString(), "--host", "0.0.0.0", "--port", "0").exit(),
                "another host needs an API key");
    }
}
