package org.distillery.kernel.osgi;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeSet;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Computes {@code org.osgi.framework.system.packages.extra} from the launcher's class path so
 * bundles import DJL, Guice, Typesafe Config, SLF4J and the Distillery API from the system
 * bundle. A jar with an {@code Export-Package} header is exported as it declares (versions
 * and {@code uses} kept); any other jar exports every package holding a class, versioned from
 * its Maven {@code pom.properties}. Felix is not exported, nor are Distillery's own jars except
 * the packages they declare in {@code Export-Package} (the API; serve's remote-endpoint client).
 */
public final class SystemPackages {

    private static final Pattern NUMERIC_VERSION = Pattern.compile("^(\\d+)(?:\\.(\\d+))?(?:\\.(\\d+))?");

    private SystemPackages() {
    }

    /** The export clause for the current {@code java.class.path}. */
    public static String fromClassPath() throws IOException {
        List<File> jars = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            File f = new File(entry);
            if (f.isFile() && f.getName().endsWith(".jar")) {
                jars.add(f);
            }
        }
        return exportsOf(jars);
    }

    /** The export clause for {@code jars}; the first jar to export a package wins. */
    public static String exportsOf(List<File> jars) throws IOException {
        Map<String, String> clauses = new LinkedHashMap<>();
        for (File jar : jars) {
            if (jar.getName().startsWith("org.apache.felix.framework")) {
                continue;
            }
            try (JarFile jf = new JarFile(jar)) {
                Manifest mf = jf.getManifest();
                String header = mf == null ? null : mf.getMainAttributes().getValue("Export-Package");
                if (isDistillery(jar.getName()) && (header == null || header.isBlank())) {
                    continue;
                }
                if (header != null && !header.isBlank()) {
                    for (String clause : splitClauses(header)) {
                        clauses.putIfAbsent(clause.split(";", 2)[0].trim(), clause.trim());
                    }
                } else {
                    String version = mavenVersion(jf);
                    for (String pkg : classPackages(jf)) {
                        clauses.putIfAbsent(pkg, version == null ? pkg : pkg + ";version=\"" + version + "\"");
                    }
                }
            }
        }
        return String.join(",", clauses.values());
    }

    /** Distillery's own jars are private unless they declare what they export (the API, serve's client). */
    private static boolean isDistillery(String name) {
        return name.startsWith("distillery-");
    }

    private static TreeSet<String> classPackages(JarFile jf) {
        TreeSet<String> packages = new TreeSet<>();
        Enumeration<JarEntry> entries = jf.entries();
        while (entries.hasMoreElements()) {
            String name = entries.nextElement().getName();
            if (!name.endsWith(".class") || name.startsWith("META-INF/") || name.endsWith("module-info.class")) {
                continue;
            }
            int slash = name.lastIndexOf('/');
            if (slash > 0) {
                packages.add(name.substring(0, slash).replace('/', '.'));
            }
        }
        return packages;
    }

    private static String mavenVersion(JarFile jf) throws IOException {
        Enumeration<JarEntry> entries = jf.entries();
        while (entries.hasMoreElements()) {
            JarEntry e = entries.nextElement();
            if (e.getName().startsWith("META-INF/maven/") && e.getName().endsWith("/pom.properties")) {
                Properties p = new Properties();
                try (InputStream in = jf.getInputStream(e)) {
                    p.load(in);
                }
                return osgiVersion(p.getProperty("version"));
            }
        }
        return null;
    }

    /** The numeric {@code major.minor.micro} prefix of a Maven version, or {@code null}. */
    static String osgiVersion(String maven) {
        if (maven == null) {
            return null;
        }
        Matcher m = NUMERIC_VERSION.matcher(maven.trim());
        if (!m.find()) {
            return null;
        }
        return m.group(1) + "." + (m.group(2) == null ? "0" : m.group(2)) + "." + (m.group(3) == null ? "0" : m.group(3));
    }

    /** Splits a manifest header at top-level commas (not inside quotes). */
    static List<String> splitClauses(String header) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean quoted = false;
        for (char c : header.toCharArray()) {
            if (c == '"') {
                quoted = !quoted;
            }
            if (c == ',' && !quoted) {
                out.add(cur.toString());
                cur.setLength(0);
            } else {
                cur.append(c);
            }
        }
        if (cur.length() > 0) {
            out.add(cur.toString());
        }
        return out;
    }
}
