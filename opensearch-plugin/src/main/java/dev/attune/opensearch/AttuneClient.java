package dev.attune.opensearch;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.AccessController;
import java.security.PrivilegedActionException;
import java.security.PrivilegedExceptionAction;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;

import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;

import org.opensearch.OpenSearchStatusException;
import org.opensearch.common.unit.TimeValue;
import org.opensearch.common.xcontent.json.JsonXContent;
import org.opensearch.core.rest.RestStatus;
import org.opensearch.core.xcontent.DeprecationHandler;
import org.opensearch.core.xcontent.NamedXContentRegistry;
import org.opensearch.core.xcontent.XContentParser;

/**
 * The node's one connection to Attune: {@code POST {endpoint}/opensearch/rerank} over HTTP/1.1
 * on kept-alive sockets (pooled, reused; TCP_NODELAY), each call made by one of the client's
 * own threads, which also completes the call's future. That is one thread hand-off per call:
 * the JDK's {@code HttpClient} took four (caller, selector, executor, completion) and checked
 * permissions at each under OpenSearch 2's security manager, about 2 ms of every search on a
 * loaded node (see benches/opensearch).
 *
 * <p>Failures are mapped to what OpenSearch should answer: Attune refusing the node's API key
 * (401, 403) to 500 naming the keystore setting, its other 4xx to
 * {@link IllegalArgumentException} (HTTP 400 to the client, with Attune's message), its 5xx and
 * unusable answers to 502, an unreachable server to 503, a call over the timeout to 504.
 */
final class AttuneClient implements AutoCloseable {
    /** The most of an error body quoted in a message. */
    private static final int MAX_QUOTED = 512;
    /** The most of an answer read (Attune's answers to 10,000 ids are far smaller). */
    private static final int MAX_ANSWER = 16 << 20;
    /** The most of the status line and headers read. */
    private static final int MAX_HEAD = 64 << 10;

    private final URI rerankUri;
    private final Duration timeout;
    private final String apiKey;
    private final String host;
    private final int port;
    private final boolean https;
    private final byte[] requestHead;
    private final ExecutorService executor;
    private final ConcurrentLinkedDeque<Connection> idle = new ConcurrentLinkedDeque<>();
    private volatile boolean closed;

    /** The answer of {@code /opensearch/rerank}: hit indices best first, and their scores. */
    static final class Reranked {
        final int[] order;
        final double[] scores;
        final int reranked;

        Reranked(int[] order, double[] scores, int reranked) {
            this.order = order;
            this.scores = scores;
            this.reranked = reranked;
        }
    }

    /** What came back: the status and the body. */
    private static final class Answer {
        final int status;
        final byte[] body;

        Answer(int status, byte[] body) {
            this.status = status;
            this.body = body;
        }
    }

    /** One kept-alive socket. */
    private static final class Connection {
        final Socket socket;
        final InputStream in;
        final OutputStream out;

        Connection(Socket socket) throws IOException {
            this.socket = socket;
            this.in = new BufferedInputStream(socket.getInputStream(), 16 << 10);
            this.out = socket.getOutputStream();
        }

        void close() {
            try {
                socket.close();
            } catch (IOException e) {
                // Nothing to do about it.
            }
        }
    }

    AttuneClient(URI endpoint, TimeValue timeout, String apiKey) {
        this.rerankUri = AttuneSettings.rerankUri(endpoint);
        this.timeout = Duration.ofMillis(timeout.millis());
        this.apiKey = apiKey;
        this.https = "https".equalsIgnoreCase(rerankUri.getScheme());
        this.host = rerankUri.getHost();
        this.port = rerankUri.getPort() >= 0 ? rerankUri.getPort() : https ? 443 : 80;
        String hostHeader = host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
        StringBuilder head = new StringBuilder();
        head.append("POST ").append(rerankUri.getRawPath()).append(" HTTP/1.1\r\n");
        head.append("Host: ").append(hostHeader);
        if (rerankUri.getPort() >= 0) {
            head.append(':').append(port);
        }
        head.append("\r\nContent-Type: application/json\r\nAccept: application/json\r\n");
        if (apiKey != null) {
            head.append("x-api-key: ").append(apiKey).append("\r\n");
        }
        head.append("Content-Length: ");
        this.requestHead = head.toString().getBytes(StandardCharsets.UTF_8);
        // The client's own threads (daemon, in the group of the thread that makes them).
        AtomicInteger threads = new AtomicInteger();
        this.executor = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "attune-rerank-" + threads.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    /** Where the client posts. */
    URI rerankUri() {
        return rerankUri;
    }

    /** The timeout of one call. */
    Duration timeout() {
        return timeout;
    }

    /**
     * Posts a re-ranking request and hands the answer, or the exception OpenSearch should report,
     * to {@code done} on one of the client's threads (on the caller's thread only when the client
     * is shut down and refuses the call).
     *
     * @param body the JSON body
     * @param hits the number of hits sent (the answer must order exactly these)
     * @param done called once, with the answer or with the failure (the other one null)
     */
    void rerank(byte[] body, int hits, BiConsumer<Reranked, RuntimeException> done) {
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            executor.execute(() -> {
                Reranked answer;
                try {
                    answer = answer(call(body, deadline), hits);
                } catch (RuntimeException e) {
                    done.accept(null, e);
                    return;
                }
                done.accept(answer, null);
            });
        } catch (RejectedExecutionException e) {
            done.accept(null, unreachable(e));
        }
    }

    /** One exchange, on an idle connection or a new one; a reused connection the server has closed is replaced once. */
    private Answer call(byte[] body, long deadline) {
        byte[] request = request(body);
        Connection reused = idle.pollFirst();
        if (reused != null) {
            try {
                return exchange(reused, request, deadline);
            } catch (IOException stale) {
                reused.close();
                if (stale instanceof SocketTimeoutException) {
                    throw overTime(stale);
                }
                // Closed while idle: try a new connection.
            }
        }
        Connection fresh;
        try {
            fresh = connect(deadline);
        } catch (SocketTimeoutException e) {
            throw new OpenSearchStatusException(
                "could not connect to Attune at " + rerankUri + " within " + timeout.toMillis() + "ms",
                RestStatus.GATEWAY_TIMEOUT,
                e
            );
        } catch (IOException | RuntimeException e) {
            throw unreachable(e);
        }
        try {
            return exchange(fresh, request, deadline);
        } catch (SocketTimeoutException e) {
            fresh.close();
            throw overTime(e);
        } catch (IOException e) {
            fresh.close();
            throw unreachable(e);
        }
    }

    private byte[] request(byte[] body) {
        byte[] length = (body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
        byte[] request = new byte[requestHead.length + length.length + body.length];
        System.arraycopy(requestHead, 0, request, 0, requestHead.length);
        System.arraycopy(length, 0, request, requestHead.length, length.length);
        System.arraycopy(body, 0, request, requestHead.length + length.length, body.length);
        return request;
    }

    private Connection connect(long deadline) throws IOException {
        int millis = remainingMillis(deadline);
        try {
            // The plugin's policy grants the connection; the callers above need not.
            return AccessController.doPrivileged((PrivilegedExceptionAction<Connection>) () -> {
                Socket socket = new Socket();
                try {
                    socket.setTcpNoDelay(true);
                    socket.setKeepAlive(true);
                    socket.connect(new InetSocketAddress(host, port), millis);
                    if (https) {
                        SSLSocket tls = (SSLSocket) ((SSLSocketFactory) SSLSocketFactory.getDefault()).createSocket(
                            socket,
                            host,
                            port,
                            true
                        );
                        SSLParameters params = tls.getSSLParameters();
                        params.setEndpointIdentificationAlgorithm("HTTPS");
                        tls.setSSLParameters(params);
                        tls.setSoTimeout(remainingMillis(deadline));
                        tls.startHandshake();
                        return new Connection(tls);
                    }
                    return new Connection(socket);
                } catch (IOException | RuntimeException e) {
                    socket.close();
                    throw e;
                }
            });
        } catch (PrivilegedActionException e) {
            throw (IOException) e.getException();
        }
    }

    private static int remainingMillis(long deadline) throws SocketTimeoutException {
        long left = (deadline - System.nanoTime()) / 1_000_000;
        if (left <= 0) {
            throw new SocketTimeoutException("timed out");
        }
        return (int) Math.min(Integer.MAX_VALUE, left);
    }

    /** Writes the request, reads the answer; keeps the connection for the next call when both sides allow it. */
    private Answer exchange(Connection c, byte[] request, long deadline) throws IOException {
        c.socket.setSoTimeout(remainingMillis(deadline));
        c.out.write(request);
        c.out.flush();
        String statusLine = line(c.in);
        String[] parts = statusLine.split(" ", 3);
        if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) {
            throw new IOException("not an HTTP/1.1 answer: " + statusLine);
        }
        int status;
        try {
            status = Integer.parseInt(parts[1]);
        } catch (NumberFormatException e) {
            throw new IOException("not an HTTP status: " + statusLine, e);
        }
        long length = -1;
        boolean chunked = false;
        boolean keepAlive = parts[0].equals("HTTP/1.1");
        int headBytes = statusLine.length();
        for (String header = line(c.in); !header.isEmpty(); header = line(c.in)) {
            headBytes += header.length();
            if (headBytes > MAX_HEAD) {
                throw new IOException("the answer's headers are too long");
            }
            int colon = header.indexOf(':');
            if (colon <= 0) {
                continue;
            }
            String name = header.substring(0, colon).trim().toLowerCase(Locale.ROOT);
            String value = header.substring(colon + 1).trim().toLowerCase(Locale.ROOT);
            if (name.equals("content-length")) {
                length = Long.parseLong(value);
            } else if (name.equals("transfer-encoding")) {
                chunked = value.contains("chunked");
            } else if (name.equals("connection")) {
                keepAlive = keepAlive ? !value.contains("close") : value.contains("keep-alive");
            }
        }
        byte[] body;
        if (chunked) {
            body = chunked(c, deadline);
        } else if (length >= 0) {
            if (length > MAX_ANSWER) {
                throw new IOException("an answer of " + length + " bytes");
            }
            body = exactly(c, (int) length, deadline);
        } else {
            keepAlive = false;
            body = untilClosed(c, deadline);
        }
        if (keepAlive && !closed) {
            idle.offerFirst(c);
        } else {
            c.close();
        }
        return new Answer(status, body);
    }

    private static String line(InputStream in) throws IOException {
        StringBuilder b = new StringBuilder();
        while (true) {
            int ch = in.read();
            if (ch < 0) {
                throw new IOException("connection closed by Attune");
            }
            if (ch == '\n') {
                int n = b.length();
                if (n > 0 && b.charAt(n - 1) == '\r') {
                    b.setLength(n - 1);
                }
                return b.toString();
            }
            if (b.length() > MAX_HEAD) {
                throw new IOException("an answer line is too long");
            }
            b.append((char) ch);
        }
    }

    private static byte[] exactly(Connection c, int length, long deadline) throws IOException {
        byte[] body = new byte[length];
        int read = 0;
        while (read < length) {
            c.socket.setSoTimeout(remainingMillis(deadline));
            int n = c.in.read(body, read, length - read);
            if (n < 0) {
                throw new IOException("connection closed by Attune after " + read + " of " + length + " bytes");
            }
            read += n;
        }
        return body;
    }

    private static byte[] chunked(Connection c, long deadline) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        while (true) {
            String size = line(c.in);
            int semi = size.indexOf(';');
            int n = Integer.parseInt((semi >= 0 ? size.substring(0, semi) : size).trim(), 16);
            if (n == 0) {
                for (String trailer = line(c.in); !trailer.isEmpty(); trailer = line(c.in)) {
                    // Trailers are not used.
                }
                return out.toByteArray();
            }
            if (out.size() + n > MAX_ANSWER) {
                throw new IOException("an answer over " + MAX_ANSWER + " bytes");
            }
            out.write(exactly(c, n, deadline));
            line(c.in);
        }
    }

    private static byte[] untilClosed(Connection c, long deadline) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        while (true) {
            c.socket.setSoTimeout(remainingMillis(deadline));
            int n = c.in.read(buf);
            if (n < 0) {
                return out.toByteArray();
            }
            if (out.size() + n > MAX_ANSWER) {
                throw new IOException("an answer over " + MAX_ANSWER + " bytes");
            }
            out.write(buf, 0, n);
        }
    }

    private RuntimeException overTime(Throwable cause) {
        return new OpenSearchStatusException(
            "Attune at " + rerankUri + " did not answer within " + timeout.toMillis() + "ms",
            RestStatus.GATEWAY_TIMEOUT,
            cause
        );
    }

    private Reranked answer(Answer response, int hits) {
        int status = response.status;
        byte[] body = response.body;
        if (status >= 200 && status < 300) {
            try {
                return parse(body, hits);
            } catch (IOException | RuntimeException e) {
                throw new OpenSearchStatusException(
                    "Attune at " + rerankUri + " answered something other than a re-ranking: " + e.getMessage(),
                    RestStatus.BAD_GATEWAY,
                    e
                );
            }
        }
        String what = errorText(body);
        if (status == 401 || status == 403) {
            // The node's configuration, not the search: a processor failure (ignore_failure
            // decides), with what to change on the node.
            throw new OpenSearchStatusException(
                "Attune at "
                    + rerankUri
                    + " refused the node's API key ("
                    + (apiKey == null ? "the node has none" : "the node's key is not Attune's")
                    + "): put the key Attune runs with into every node's keystore as "
                    + AttuneSettings.API_KEY.getKey()
                    + " (bin/opensearch-keystore add --force "
                    + AttuneSettings.API_KEY.getKey()
                    + ") and restart the node [HTTP "
                    + status
                    + ": "
                    + what
                    + "]",
                RestStatus.INTERNAL_SERVER_ERROR
            );
        }
        if (status >= 400 && status < 500) {
            throw new IllegalArgumentException("Attune refused to re-rank the hits: " + what + " [HTTP " + status + "]");
        }
        throw new OpenSearchStatusException(
            "Attune failed to re-rank the hits: " + what + " [HTTP " + status + " from " + rerankUri + "]",
            RestStatus.BAD_GATEWAY
        );
    }

    private RuntimeException unreachable(Throwable cause) {
        String reason = cause instanceof ConnectException ? "connection refused" : cause.toString();
        return new OpenSearchStatusException(
            "could not reach Attune at " + rerankUri + ": " + reason + " (is `attune serve` running there? see "
                + AttuneSettings.ENDPOINT.getKey()
                + ")",
            RestStatus.SERVICE_UNAVAILABLE,
            cause
        );
    }

    /** Attune's error message ({@code {"__type": ..., "message": ...}}), or the body's start. */
    private static String errorText(byte[] body) {
        try (XContentParser p = parser(body)) {
            if (p.nextToken() == XContentParser.Token.START_OBJECT) {
                String type = null;
                String message = null;
                while (p.nextToken() == XContentParser.Token.FIELD_NAME) {
                    String field = p.currentName();
                    XContentParser.Token t = p.nextToken();
                    if (t == XContentParser.Token.VALUE_STRING && field.equals("__type")) {
                        type = p.text();
                    } else if (t == XContentParser.Token.VALUE_STRING && (field.equals("message") || field.equals("Message"))) {
                        message = p.text();
                    } else {
                        p.skipChildren();
                    }
                }
                if (message != null) {
                    return type == null ? message : message + " (" + type + ")";
                }
            }
        } catch (IOException | RuntimeException e) {
            // Not JSON: quote the text.
        }
        String text = new String(body, StandardCharsets.UTF_8).strip();
        if (text.isEmpty()) {
            return "(no message)";
        }
        return text.length() > MAX_QUOTED ? text.substring(0, MAX_QUOTED) + "..." : text;
    }

    private static XContentParser parser(byte[] body) throws IOException {
        return JsonXContent.jsonXContent.createParser(NamedXContentRegistry.EMPTY, DeprecationHandler.IGNORE_DEPRECATIONS, body);
    }

    /** Reads {@code {"order": [...], "scores": [...], "reranked": k}} and checks its shape. */
    static Reranked parse(byte[] body, int hits) throws IOException {
        List<Integer> order = null;
        List<Double> scores = null;
        int reranked = 0;
        try (XContentParser p = parser(body)) {
            if (p.nextToken() != XContentParser.Token.START_OBJECT) {
                throw new IllegalArgumentException("not a JSON object");
            }
            while (p.nextToken() == XContentParser.Token.FIELD_NAME) {
                String field = p.currentName();
                XContentParser.Token t = p.nextToken();
                if (field.equals("order") && t == XContentParser.Token.START_ARRAY) {
                    order = new ArrayList<>(hits);
                    while (p.nextToken() != XContentParser.Token.END_ARRAY) {
                        order.add(p.intValue(false));
                    }
                } else if (field.equals("scores") && t == XContentParser.Token.START_ARRAY) {
                    scores = new ArrayList<>(hits);
                    while (p.nextToken() != XContentParser.Token.END_ARRAY) {
                        scores.add(p.doubleValue(false));
                    }
                } else if (field.equals("reranked") && t == XContentParser.Token.VALUE_NUMBER) {
                    reranked = p.intValue(false);
                } else {
                    p.skipChildren();
                }
            }
        }
        if (order == null || scores == null) {
            throw new IllegalArgumentException("\"order\" and \"scores\" are required");
        }
        if (order.size() != hits || scores.size() != hits) {
            throw new IllegalArgumentException(
                "expected " + hits + " entries in \"order\" and \"scores\", found " + order.size() + " and " + scores.size()
            );
        }
        int[] o = new int[hits];
        double[] s = new double[hits];
        boolean[] seen = new boolean[hits];
        for (int k = 0; k < hits; k++) {
            int i = order.get(k);
            if (i < 0 || i >= hits || seen[i]) {
                throw new IllegalArgumentException("\"order\" is not a permutation of the " + hits + " hits");
            }
            seen[i] = true;
            o[k] = i;
            s[k] = scores.get(k);
            if (!Double.isFinite(s[k])) {
                throw new IllegalArgumentException("\"scores\" holds a value that is not finite");
            }
        }
        return new Reranked(o, s, reranked);
    }

    @Override
    public void close() {
        closed = true;
        executor.shutdown();
        for (Connection c = idle.pollFirst(); c != null; c = idle.pollFirst()) {
            c.close();
        }
    }
}
