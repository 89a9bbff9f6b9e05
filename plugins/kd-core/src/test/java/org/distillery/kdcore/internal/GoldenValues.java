package org.distillery.kdcore.internal;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Writes and reads {@code golden/losses.tsv}: one line per {@link GoldenCase} and per
 * hidden-state case, name TAB value, the value computed by {@link ReferenceLosses} in double
 * precision. Regenerate with (from {@code plugins/kd-core}, after {@code mvn test-compile}):
 * <pre>java -cp target/test-classes org.distillery.kdcore.internal.GoldenValues src/test/resources/golden/losses.tsv</pre>
 */
final class GoldenValues {

    static final String RESOURCE = "/golden/losses.tsv";

    private GoldenValues() {
    }

    /** Computes every golden value with the reference. */
    static Map<String, Double> compute() {
        Map<String, Double> values = new LinkedHashMap<>();
        for (GoldenCase c : GoldenCase.all()) {
            values.put(c.name(), c.reference(ReferenceLosses.toDouble(c.fixture().student())));
        }
        for (HiddenFixture.Case c : HiddenFixture.goldenCases()) {
            values.put(c.name(), c.reference());
        }
        return values;
    }

    /** Reads the stored golden values. */
    static Map<String, Double> load() throws IOException {
        Map<String, Double> values = new LinkedHashMap<>();
        try (InputStream in = GoldenValues.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IOException(RESOURCE + " missing");
            }
            BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                if (line.isBlank() || line.startsWith("#")) {
                    continue;
                }
                String[] parts = line.split("\t");
                values.put(parts[0], Double.parseDouble(parts[1]));
            }
        }
        return values;
    }

    /** Writes the golden file to {@code args[0]}. */
    public static void main(String[] args) throws IOException {
        Path out = Path.of(args[0]);
        try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(out, StandardCharsets.UTF_8))) {
            w.println("# kd-core golden values: case<TAB>loss sum over masked tokens (before dividing by count).");
            w.println("# Written by org.distillery.kdcore.internal.GoldenValues from ReferenceLosses (plain Java, double);");
            w.println("# see README.md next to this file.");
            for (Map.Entry<String, Double> e : compute().entrySet()) {
                w.println(e.getKey() + "\t" + String.format(Locale.ROOT, "%.17g", e.getValue()));
            }
        }
    }
}
