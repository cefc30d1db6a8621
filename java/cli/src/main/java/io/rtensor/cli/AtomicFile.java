package io.rtensor.cli;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.security.SecureRandom;

/**
 * Writes a file so that a failure loses nothing: into a new temporary file in the target's
 * directory, flushed to disk and renamed over the target only when complete. Until the rename the
 * target is what it was; after it, the new content whole.
 */
final class AtomicFile {
  private static final SecureRandom RANDOM = new SecureRandom();

  /** Writes the content of a file at a path it is given. */
  interface Content {
    void writeTo(Path file) throws IOException;
  }

  private AtomicFile() {}

  /**
   * Writes {@code target} with {@code content}. A symbolic link is written through (the file it
   * points at is replaced); an existing file's permissions carry over.
   *
   * @throws BadInputException (exit 2) if the target is a directory or its directory is missing or
   *     not writable, (exit 1) if writing fails otherwise; the target is then untouched
   * @throws IOException if the temporary file cannot be removed after a failure
   */
  static void write(Path target, Content content) throws BadInputException, IOException {
    Path file = target;
    if (Files.isSymbolicLink(file) && Files.exists(file)) {
      file = file.toRealPath();
    }
    String shown = InputFile.shown(target);
    if (Files.isDirectory(file)) {
      throw new BadInputException(shown + ": is a directory, not a file");
    }
    Path dir = file.toAbsolutePath().getParent();
    Path temp =
        dir.resolve("." + file.getFileName() + "." + Long.toHexString(RANDOM.nextLong()) + ".tmp");
    try {
      Files.createFile(temp);
    } catch (NoSuchFileException e) {
      throw new BadInputException(shown + ": no such directory " + InputFile.shown(dir));
    } catch (AccessDeniedException e) {
      throw new BadInputException(
          shown + ": permission denied (cannot create a file in its" + " directory)");
    } catch (IOException e) {
      throw cannotWrite(shown, e);
    }
    boolean done = false;
    try {
      keepPermissions(file, temp);
      content.writeTo(temp);
      try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.WRITE)) {
        channel.force(true);
      }
      Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      done = true;
    } catch (IOException e) {
      throw cannotWrite(shown, e);
    } finally {
      if (!done) {
        Files.deleteIfExists(temp);
      }
    }
  }

  private static void keepPermissions(Path from, Path to) throws IOException {
    PosixFileAttributeView source = Files.getFileAttributeView(from, PosixFileAttributeView.class);
    if (source != null && Files.exists(from)) {
      Files.setPosixFilePermissions(to, source.readAttributes().permissions());
    }
  }

  private static BadInputException cannotWrite(String shown, IOException e) {
    String reason =
        e instanceof FileSystemException fs && fs.getReason() != null
            ? fs.getReason()
            : String.valueOf(e.getMessage());
    return new BadInputException(shown + ": cannot write (" + Escaped.text(reason) + ")", 1);
  }
}
