// Compiles many Java sources in one JVM, so each after the first costs milliseconds, not a JVM start and a
// cold javac. Started by the sandbox worker inside the same jail as any build (the sandbox uid, no network,
// limits). Reads one request per line on stdin: "folder<TAB>file<TAB>classpath"; compiles folder/file into
// folder, and answers "<exit code><TAB><bytes of log>\n" then the log itself. Standard library only.
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

public class CodescalerJavac {
    public static void main(String[] args) throws Exception {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        OutputStream out = System.out;
        String line;
        while ((line = in.readLine()) != null) {
            String[] request = line.split("\t", -1);
            List<String> options = new ArrayList<>(List.of("-nowarn", "-proc:none", "-encoding", "UTF-8", "-d", request[0]));
            if (!request[2].isEmpty()) {
                options.add("-cp");
                options.add(request[2]);
            }
            options.add(request[0] + "/" + request[1]);
            ByteArrayOutputStream log = new ByteArrayOutputStream();
            int code;
            try {
                code = javac.run(null, log, log, options.toArray(new String[0]));
            } catch (Throwable error) {  // a compiler crash is this source's failure, not the batch's
                log.write(error.toString().getBytes(StandardCharsets.UTF_8));
                code = 3;
            }
            byte[] text = log.toByteArray();
            out.write((code + "\t" + text.length + "\n").getBytes(StandardCharsets.UTF_8));
            out.write(text);
            out.flush();
        }
    }
}
