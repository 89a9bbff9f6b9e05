package org.distillery.dashboard;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** A raw HTTP/1.1 client on a socket, so tests choose every header (Host included) and every byte of the path. */
final class Http {

    /** A response. */
    record Response(int status, Map<String, String> headers, String body) {
    }

    private Http() {
    }

    static Response get(int port, String rawPath, String... headers) throws IOException {
        return request(port, "GET", rawPath, headers);
    }

    static Response request(int port, String method, String rawPath, String... headers) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(30_000);
            OutputStream out = s.getOutputStream();
            StringBuilder req = new StringBuilder(method + " " + rawPath + " HTTP/1.1\r\n");
            boolean host = false;
            for (String h : headers) {
                host |= h.toLowerCase(Locale.ROOT).startsWith("host:");
                req.append(h).append("\r\n");
            }
            if (!host) {
                req.append("Host: 127.0.0.1:").append(port).append("\r\n");
            }
            req.append("Connection: close\r\nContent-Length: 0\r\n\r\n");
            out.write(req.toString().getBytes(StandardCharsets.UTF_8));
            out.flush();
            InputStream in = s.getInputStream();
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            in.transferTo(all);
            String text = all.toString(StandardCharsets.UTF_8);
            int split = text.indexOf("\r\n\r\n");
            String[] head = text.substring(0, split).split("\r\n");
            Map<String, String> hs = new LinkedHashMap<>();
            for (int i = 1; i < head.length; i++) {
                int c = head[i].indexOf(':');
                hs.put(head[i].substring(0, c).trim().toLowerCase(Locale.ROOT), head[i].substring(c + 1).trim());
            }
            String body = text.substring(split + 4);
            if ("chunked".equalsIgnoreCase(hs.get("transfer-encoding"))) {
                body = dechunk(body);
            }
            return new Response(Integer.parseInt(head[0].split(" ")[1]), hs, body);
        }
    }

    private static String dechunk(String body) {
        StringBuilder out = new StringBuilder();
        int i = 0;
        while (i < body.length()) {
            int eol = body.indexOf("\r\n", i);
            int size = Integer.parseInt(body.substring(i, eol).trim(), 16);
            if (size == 0) {
                break;
            }
            out.append(body, eol + 2, eol + 2 + size);
            i = eol + 2 + size + 2;
        }
        return out.toString();
    }
}
