package org.distillery.kernel.osgi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SystemPackagesTest {

    @Test
    void mavenVersionsBecomeOsgiVersions() {
        assertEquals("2.7.1", SystemPackages.osgiVersion("2.7.1-0.36.0"));
        assertEquals("1.4.0", SystemPackages.osgiVersion("1.4"));
        assertEquals("31.0.1", SystemPackages.osgiVersion("31.0.1-jre"));
        assertNull(SystemPackages.osgiVersion("unknown"));
    }

    @Test
    void clausesSplitOutsideQuotes() {
        assertEquals(List.of("a;version=\"1.0\"", "b;uses:=\"x,y\""),
                SystemPackages.splitClauses("a;version=\"1.0\",b;uses:=\"x,y\""));
    }

    @Test
    void declaredExportsAreKeptAndOthersComputed(@TempDir Path dir) throws Exception {
        Path declared = jar(dir.resolve("guice.jar"), "com.google.inject;version=\"1.4\"",
                "com/google/inject/Guice.class");
        Path plain = jar(dir.resolve("djl.jar"), null, "ai/djl/Model.class", "ai/djl/ndarray/NDArray.class",
                "META-INF/maven/ai.djl/api/pom.properties", "module-info.class");
        Path kernel = jar(dir.resolve("distillery-kernel-1.jar"), null, "org/distillery/kernel/Kernel.class");
        Path serve = jar(dir.resolve("distillery-serve-1.jar"), "org.distillery.kit.openai;version=\"0.1.0\"",
                "org/distillery/serve/OpenAiServer.class", "org/distillery/serve/client/OpenAiClient.class");
        String exports = SystemPackages.exportsOf(List.of(declared.toFile(), plain.toFile(), kernel.toFile(),
                serve.toFile()));
        assertTrue(exports.contains("org.distillery.kit.openai;version=\"0.1.0\""), exports);
        assertTrue(!exports.contains("org.distillery.serve,") && !exports.endsWith("org.distillery.serve"),
                "only the declared package of a Distillery jar: " + exports);
        assertTrue(exports.contains("com.google.inject;version=\"1.4\""), exports);
        assertTrue(exports.contains("ai.djl;version=\"0.36.0\""), exports);
        assertTrue(exports.contains("ai.djl.ndarray;version=\"0.36.0\""), exports);
        assertTrue(!exports.contains("org.distillery.kernel"), "kernel internals stay private: " + exports);
    }

    private static Path jar(Path file, String exportHeader, String... entries) throws Exception {
        Manifest mf = new Manifest();
        mf.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        if (exportHeader != null) {
            mf.getMainAttributes().putValue("Export-Package", exportHeader);
        }
        try (OutputStream os = Files.newOutputStream(file); JarOutputStream jos = new JarOutputStream(os, mf)) {
            for (String e : entries) {
                jos.putNextEntry(new JarEntry(e));
                if (e.endsWith("pom.properties")) {
                    jos.write("version=0.36.0\n".getBytes());
                }
                jos.closeEntry();
            }
        }
        return file;
    }
}
