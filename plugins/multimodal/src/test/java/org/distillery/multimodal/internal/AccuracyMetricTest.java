package org.distillery.multimodal.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;

import com.typesafe.config.ConfigFactory;

import org.distillery.api.data.Example;
import org.distillery.api.metric.EvalContext;
import org.junit.jupiter.api.Test;

/** Exact-answer accuracy overall and per question type; captions and unlabelled records left out. */
class AccuracyMetricTest {

    @Test
    void countsExactAnswersPerTask() {
        List<Example> ex = List.of(
                Example.pair("1", "q", "red", Map.of("task", "color", "label", "red")),
                Example.pair("2", "q", "blue", Map.of("task", "color", "label", "blue")),
                Example.pair("3", "q", "3", Map.of("task", "count", "label", "3")),
                Example.pair("4", "q", "a red circle", Map.of("task", "caption", "label", "a red circle")),
                Example.pair("5", "q", "x", Map.of("task", "color")));
        List<String> preds = List.of(" Red. ", "green", "3", "a red circle", "x");
        var m = new AccuracyMetric.Factory().create(ConfigFactory.parseString("tasks = [], exclude = [caption]"));
        Map<String, Double> f = m.evaluate(new EvalContext(null, null, null, null, ex, preds));
        assertEquals(2.0 / 3, f.get("accuracy"), 1e-12);
        assertEquals(0.5, f.get("accuracy.color"), 1e-12);
        assertEquals(1.0, f.get("accuracy.count"), 1e-12);
        assertEquals(3, f.size(), f.toString());
        var only = new AccuracyMetric.Factory().create(ConfigFactory.parseString("tasks = [count], exclude = []"));
        assertEquals(1.0, only.evaluate(new EvalContext(null, null, null, null, ex, preds)).get("accuracy"));
    }
}
