package org.distillery.kernel.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import com.typesafe.config.Config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An include that finds no file is a warning naming it; what is found is included as before; required stays an error. */
class MissingIncludesTest {

    @TempDir
    Path dir;

    @Test
    void eachMissingIncludeIsNamedAndTheRestLoads() throws Exception {
        Files.writeString(dir.resolve("fragment.conf"), "train.steps = 7\ninclude \"nested-typo.conf\"\n");
        Path exp = Files.writeString(dir.resolve("exp.conf"), """
                include "fragment.conf"
                include "fragmnet.conf"
                include file("%s")
                train.batch-size = 3
                """.formatted(dir.resolve("gone.conf")));
        ExperimentLoader loader = new ExperimentLoader(dir);
        Config c = loader.load(exp, List.of());
        assertEquals(7, c.getInt("train.steps"), "the existing fragment is included");
        assertEquals(3, c.getInt("train.batch-size"));
        List<String> w = loader.warnings();
        assertEquals(3, w.size(), w.toString());
        assertTrue(w.get(0).startsWith(exp + ": include \"nested-typo.conf\" found no file"), w.get(0));
        assertTrue(w.get(1).contains("include \"fragmnet.conf\" found no file and was skipped"), w.get(1));
        assertTrue(w.get(2).contains("include file(\"" + dir.resolve("gone.conf") + "\")"), w.get(2));
        assertTrue(w.get(2).contains("include required(...)"), w.get(2));

        Path clean = Files.writeString(dir.resolve("clean.conf"), "include \"fragment.conf\"\n");
        Files.writeString(dir.resolve("fragment.conf"), "train.steps = 7\n");
        loader.load(clean, List.of());
        assertEquals(List.of(), loader.warnings(), "warnings are per load");

        Path required = Files.writeString(dir.resolve("required.conf"), "include required(\"nowhere.conf\")\n");
        assertThrows(ExperimentException.class, () -> loader.load(required, List.of()));
    }
}
