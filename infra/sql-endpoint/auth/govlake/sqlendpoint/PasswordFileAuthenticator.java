package govlake.sqlendpoint;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import javax.security.sasl.AuthenticationException;
import org.apache.hive.service.auth.PasswdAuthenticationProvider;

/**
 * HiveServer2 CUSTOM authentication for the local SQL endpoint: user names and PBKDF2-SHA256
 * password hashes from a file outside git (written by {@code govlake sql user add}).
 *
 * <p>The file is named by the environment variable GOVLAKE_THRIFT_USERS_FILE; one user a line,
 * {@code name:pbkdf2_sha256:<iterations>:<salt base64>:<hash base64>}; '#' starts a comment. It is
 * read again whenever it changes, so users are added or removed without a restart. A wrong or
 * unknown user, a missing file, or a malformed line refuses the login.
 *
 * <p>A province's endpoint uses LDAP (its directory) or Kerberos instead: see infra/k8s/spark.
 */
public final class PasswordFileAuthenticator implements PasswdAuthenticationProvider {
  static final String USERS_FILE_ENV = "GOVLAKE_THRIFT_USERS_FILE";
  private static final int MIN_ITERATIONS = 100_000;

  private static final Object LOCK = new Object();
  private static Path loadedPath;
  private static long loadedModified = -1;
  private static long loadedSize = -1;
  private static Map<String, String[]> users = Map.of();

  @Override
  public void Authenticate(String user, String password) throws AuthenticationException {
    if (user == null || password == null || user.isEmpty()) {
      throw new AuthenticationException("user name and password are required");
    }
    String[] entry = current().get(user);
    // Compute a hash even for an unknown user, so timing does not tell which names exist.
    String[] reference = entry != null ? entry : new String[] {"pbkdf2_sha256", "100000", "AAAA", "AAAA"};
    boolean matches;
    try {
      int iterations = Integer.parseInt(reference[1]);
      byte[] salt = Base64.getDecoder().decode(reference[2]);
      byte[] expected = Base64.getDecoder().decode(reference[3]);
      byte[] actual = pbkdf2(password, salt, iterations, Math.max(expected.length, 1));
      matches = MessageDigest.isEqual(actual, expected);
    } catch (IllegalArgumentException | GeneralSecurityException e) {
      throw new AuthenticationException("password file entry of " + user + " is malformed");
    }
    if (entry == null || !matches) {
      throw new AuthenticationException("wrong user name or password");
    }
  }

  static byte[] pbkdf2(String password, byte[] salt, int iterations, int bytes)
      throws GeneralSecurityException {
    PBEKeySpec spec = new PBEKeySpec(password.toCharArray(), salt, iterations, bytes * 8);
    return SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
  }

  private static Map<String, String[]> current() throws AuthenticationException {
    String name = System.getenv(USERS_FILE_ENV);
    if (name == null || name.isEmpty()) {
      throw new AuthenticationException(USERS_FILE_ENV + " is not set: no user can log in");
    }
    Path path = Paths.get(name);
    synchronized (LOCK) {
      try {
        long modified = Files.getLastModifiedTime(path).toMillis();
        long size = Files.size(path);
        if (!path.equals(loadedPath) || modified != loadedModified || size != loadedSize) {
          users = parse(Files.readAllLines(path, StandardCharsets.UTF_8));
          loadedPath = path;
          loadedModified = modified;
          loadedSize = size;
        }
        return users;
      } catch (IOException e) {
        throw new AuthenticationException("cannot read the users file " + path + ": " + e);
      }
    }
  }

  private static Map<String, String[]> parse(List<String> lines) {
    Map<String, String[]> parsed = new HashMap<>();
    for (String raw : lines) {
      String line = raw.strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      String[] parts = line.split(":");
      if (parts.length != 5 || !parts[1].equals("pbkdf2_sha256")) {
        continue; // a malformed line admits nobody
      }
      try {
        if (Integer.parseInt(parts[2]) < MIN_ITERATIONS) {
          continue;
        }
      } catch (NumberFormatException e) {
        continue;
      }
      parsed.put(parts[0], new String[] {parts[1], parts[2], parts[3], parts[4]});
    }
    return Map.copyOf(parsed);
  }
}
