package dev.attune.opensearch;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.AccessController;
import java.security.PrivilegedAction;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

import org.opensearch.OpenSearchStatusException;
import org.opensearch.common.unit.TimeValue;
import org.opensearch.common.xcontent.json.JsonXContent;
import org.opensearch.core.rest.RestStatus;
import org.opensearch.core.xcontent.DeprecationHandler;
import org.opensearch.core.xcontent.NamedXContentRegistry;
import org.opensearch.core.xcontent.XContentParser;

/**
 * The node's one connection to Attune: a JDK {@link HttpClient} (connections pooled and reused)
 * calling {@code POST {endpoint}/opensearch/rerank}. Failures are mapped to what OpenSearch
 * should answer: Attune refusing the node's API key (401, 403) to 500 naming the keystore
 * setting, its other 4xx to {@link IllegalArgumentException} (HTTP 400 to the client, with
 * Attune's message), its 5xx and unusable answers to 502, an unreachable server to 503, a call
 * over the timeout to 504.
 */
final class AttuneClient implements AutoCloseable {
    /** The most of an error body quoted in a message. */
    private static final int MAX_QUOTED = 512;

    private final URI rerankUri;
    private final Duration timeout;
    private final String apiKey;
    private final ExecutorService executor;
    private final HttpClient http;

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

    AttuneClient(URI endpoint, TimeValue timeout, String apiKey) {
        this.rerankUri = AttuneSettings.rerankUri(endpoint);
        this.timeout = Duration.ofMillis(timeout.millis());
        this.apiKey = apiKey;
        // The client's own threads. Its default executor makes "innocuous" threads outside the
        // caller's thread group, which OpenSearch's security manager refuses to plugins
        // (ThreadPermission modifyArbitraryThread); these stay in the caller's group.
        AtomicInteger threads = new AtomicInteger();
        this.executor = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "attune-rerank-http-" + threads.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.http = AccessController.doPrivileged(
            (PrivilegedAction<HttpClient>) () -> HttpClient.newBuilder()
                .executor(executor)
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(this.timeout)
                .proxy(HttpClient.Builder.NO_PROXY)
                .followRedirects(HttpClient.Redirect.NEVER)
                .build()
        );
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
     * Posts a re-ranking request; the future completes on one of the client's threads, with the
     * answer or with the exception OpenSearch should report.
     *
     * @param body the JSON body
     * @param hits the number of hits sent (the answer must order exactly these)
     */
    CompletableFuture<Reranked> rerank(byte[] body, int hits) {
        HttpRequest.Builder request = HttpRequest.newBuilder(rerankUri)
            .timeout(timeout)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .POST(HttpRequest.BodyPublishers.ofByteArray(body));
        if (apiKey != null) {
            request.header("x-api-key", apiKey);
        }
        HttpRequest built = request.build();
        CompletableFuture<HttpResponse<byte[]>> sent;
        try {
            // The security manager checks the URLPermission against the caller's context: the
            // plugin's policy grants it, the callers above us need not.
            sent = AccessController.doPrivileged(
                (PrivilegedAction<CompletableFuture<HttpResponse<byte[]>>>) () -> http.sendAsync(
                    built,
                    HttpResponse.BodyHandlers.ofByteArray()
                )
            );
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(unreachable(e));
        }
        return sent.handle((response, error) -> {
            if (error != null) {
                throw new CompletionException(mapFailure(error));
            }
            return answer(response, hits);
        });
    }

    private Reranked answer(HttpResponse<byte[]> response, int hits) {
        int status = response.statusCode();
        byte[] body = response.body() == null ? new byte[0] : response.body();
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

    private RuntimeException mapFailure(Throwable error) {
        Throwable cause = error;
        while (cause instanceof CompletionException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        if (cause instanceof HttpConnectTimeoutException) {
            return new OpenSearchStatusException(
                "could not connect to Attune at " + rerankUri + " within " + timeout.toMillis() + "ms",
                RestStatus.GATEWAY_TIMEOUT,
                cause
            );
        }
        if (cause instanceof HttpTimeoutException) {
            return new OpenSearchStatusException(
                "Attune at " + rerankUri + " did not answer within " + timeout.toMillis() + "ms",
                RestStatus.GATEWAY_TIMEOUT,
                cause
            );
        }
        return unreachable(cause);
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
        // Java 21 and later can stop the client (waiting for calls in flight, each bounded by
        // the timeout); before that its selector thread ends with it.
        HttpClient client = http;
        if (client instanceof AutoCloseable) {
            try {
                ((AutoCloseable) client).close();
            } catch (Exception e) {
                // Closing at node shutdown: nothing to do about it.
            }
        }
        executor.shutdown();
    }
}
